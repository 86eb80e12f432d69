"""The Lambda environment: configuration, tables, bus and landed objects, from the variables the stack sets.

Kept apart from the handlers so that they stay a few lines each, and from the domain so that it never sees boto3.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3

from cdp import settings
from cdp.adapters.buses import EventBridgeBus
from cdp.adapters.contacts import S3Contacts
from cdp.adapters.iceberg import IcebergStore, catalog_from_environment
from cdp.adapters.models import S3Models
from cdp.config import Config, load_config
from cdp.events import BUS_NAME
from cdp.tables import DATABASE


@cache
def config() -> Config:
    return load_config(os.environ.get(settings.CONFIG_ENV, settings.IMAGE_CONFIG_PATH))


@cache
def store() -> IcebergStore:
    return IcebergStore(catalog_from_environment(), os.environ.get(settings.DATABASE_ENV, DATABASE))


def client(service: str) -> Any:
    endpoint = os.environ.get(settings.S3_ENDPOINT_ENV if service == "s3" else settings.AWS_ENDPOINT_ENV)
    return boto3.client(service, endpoint_url=endpoint or None)


@cache
def bus() -> EventBridgeBus:
    return EventBridgeBus(client("events"), os.environ.get(settings.EVENT_BUS_ENV, BUS_NAME))


@cache
def models() -> S3Models:
    return S3Models(client("s3"), os.environ[settings.DATA_BUCKET_ENV])


@cache
def contacts() -> S3Contacts:
    return S3Contacts(client("s3"), os.environ[settings.DATA_BUCKET_ENV])


@cache
def salt() -> str | None:
    """The platform's secret salt (Secrets Manager), for the functions the stack gives it to."""
    secret = os.environ.get(settings.SALT_SECRET_ENV)
    return client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"] if secret else None


@dataclass(frozen=True)
class LandedObject:
    bucket: str
    key: str
    etag: str
    version_id: str | None
    size: int = 0

    @property
    def source(self) -> str | None:
        return settings.source_of_key(self.key)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def fingerprint(self) -> str:
        return f"{self.etag}:{self.version_id}" if self.version_id else self.etag

    def download(self, folder: Path) -> Path:
        """Copy the object to local disk (Lambda's ephemeral storage), from where ingestion streams it."""
        path = folder / Path(self.key).name
        extra = {"VersionId": self.version_id} if self.version_id else None
        client("s3").download_file(self.bucket, self.key, str(path), ExtraArgs=extra)
        return path


def object_arguments(bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    """The object's address for S3 calls (get, head), with its version when there is one."""
    return {"Bucket": bucket, "Key": key} | ({"VersionId": version_id} if version_id else {})


def s3_client() -> Any:
    return client("s3")


def split_bytes() -> int:
    """Landed files from this size on are ingested in parts, fanned out by the large-file state machine."""
    return int(os.environ.get(settings.SPLIT_BYTES_ENV, settings.DEFAULT_SPLIT_BYTES))


def landed_objects(notification: dict[str, Any]) -> list[LandedObject]:
    """Objects of an S3 event notification; S3 URL-encodes keys with '+' for spaces, hence unquote_plus."""
    objects = []
    for record in notification.get("Records", []):
        if not record.get("eventName", "").startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        objects.append(
            LandedObject(
                s3["bucket"]["name"],
                unquote_plus(s3["object"]["key"]),
                s3["object"].get("eTag", "").strip('"'),
                s3["object"].get("versionId"),
                int(s3["object"].get("size", 0)),
            )
        )
    return objects


class S3RangeFile(io.RawIOBase):
    """A read-only, seekable view of an S3 object that fetches only the byte ranges read.

    Parquet readers seek to the footer and then to the column chunks they need: over this view, planning a
    Parquet file reads its footer alone, and a worker reads its own row groups alone.
    """

    def __init__(self, bucket: str, key: str, size: int, version_id: str | None = None):
        self._object = object_arguments(bucket, key, version_id)
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read_range(self, start: int, end: int) -> bytes:
        """Bytes [start, end) of the object, in one range GET."""
        if end <= start:
            return b""
        response = client("s3").get_object(**self._object, Range=f"bytes={start}-{end - 1}")
        return response["Body"].read()

    def readinto(self, buffer: Any) -> int:
        data = self.read_range(self._position, min(self._size, self._position + len(buffer)))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
