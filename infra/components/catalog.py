"""The Glue database `cdp` and its Iceberg tables, declared from the package's table schemas."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdp.tables import DATABASE, TABLES, glue_type


class Catalog(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, warehouse_uri: str) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        self.database = glue.CfnDatabase(
            self, "Database", catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=DATABASE, description="Customer data platform", location_uri=warehouse_uri),
        )
        self.tables: dict[str, glue.CfnTable] = {}
        for name, spec in TABLES.items():
            table = glue.CfnTable(
                self, f"Table{name.title().replace('_', '')}", catalog_id=account, database_name=DATABASE,
                table_input=glue.CfnTable.TableInputProperty(
                    name=name, description=spec.description, table_type="EXTERNAL_TABLE",
                    storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                        location=f"{warehouse_uri}/{DATABASE}.db/{name}",
                        columns=[glue.CfnTable.ColumnProperty(name=f.name, type=glue_type(f.type))
                                 for f in spec.schema],
                    ),
                ),
                open_table_format_input=glue.CfnTable.OpenTableFormatInputProperty(
                    iceberg_input=glue.CfnTable.IcebergInputProperty(metadata_operation="CREATE", version="2")),
            )
            table.node.add_dependency(self.database)
            self.tables[name] = table

    def grant_read_write(self, grantee: iam.IGrantable) -> None:
        stack = Stack.of(self)
        arn = f"arn:{stack.partition}:glue:{stack.region}:{stack.account}"
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable"],
            resources=[f"{arn}:catalog", f"{arn}:database/{DATABASE}", f"{arn}:table/{DATABASE}/*"],
        ))
