"""Large files in parts (the large-file state machine): plan the parts, stage each in parallel, commit once; on
any failure, record it and clean up.

Each step is a thin adapter over `cdp.ingest.formats` and `cdp.ingest.parts` (`plan_parts_of_stream` or
`plan_parquet_parts`, `stage_part`, `commit_parts`), the functions that `ingest_in_parts` chains locally.
Staged parts live under `cdp.settings.staging_folder(file_id)` in the data bucket.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp import settings
from cdp.adapters import lambda_env as aws
from cdp.ingest.files import FileOutcome, begin_file, file_id_for, record_file
from cdp.ingest.formats import FileRejected, Part, plan_parquet_parts, plan_parts_of_stream
from cdp.ingest.parts import commit_parts, stage_part

logger = Logger()
tracer = Tracer()
PART_BYTES = 512 << 20  # a part one function validates in a few minutes


def _object(event: dict[str, Any]) -> dict[str, Any]:
    return aws.object_arguments(event["bucket"], event["key"], event.get("version_id"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def plan(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    uri = f"s3://{event['bucket']}/{event['key']}"
    spec, file_id, skipped = begin_file(aws.store(), aws.config(), event["source"], uri, event["fingerprint"])
    if skipped:
        return {**event, "file_id": file_id, "skipped": True, "parts": []}
    part_bytes = event.get("part_bytes", PART_BYTES)
    s3 = aws.s3_client()
    size = s3.head_object(**_object(event))["ContentLength"]
    remote = aws.S3RangeFile(event["bucket"], event["key"], size, event.get("version_id"))
    footer_start = None
    if remote.read_range(0, 4) == b"PAR1":
        # Parquet is cut between row groups, planned from its footer alone.
        parts = plan_parquet_parts(remote, part_bytes)
        footer_start = size - 8 - int.from_bytes(remote.read_range(size - 8, size - 4), "little")
    else:
        body = s3.get_object(**_object(event))["Body"]
        parts = plan_parts_of_stream(body, size, spec.format, part_bytes)
    logger.info("file planned", extra={"file_id": file_id, "parts": len(parts)})
    return {**event, "file_id": file_id, "skipped": False, "size": size, "footer_start": footer_start,
            "header_end": 0 if footer_start is not None else parts[0].start,
            "parts": [{"index": p.index, "start": p.start, "end": p.end, "first_row": p.first_row,
                       "row_groups": p.row_groups} for p in parts]}


def _fetch_part(event: dict[str, Any], part: Part, local: Path) -> Part:
    """Write what the worker reads to ``local``, and return the part as it stands in that file."""
    remote = aws.S3RangeFile(event["bucket"], event["key"], event["size"], event.get("version_id"))
    with local.open("wb") as handle:
        if part.row_groups is not None:
            # A sparse copy of the Parquet file: its magic, this part's row groups and the footer, each at its
            # own offset, so the footer's offsets hold; the rest is never written, nor read.
            handle.truncate(event["size"])
            for start, end in ((0, 4), (part.start, part.end), (event["footer_start"], event["size"])):
                handle.seek(start)
                handle.write(remote.read_range(start, end))
            return Part(part.index, part.start, part.end, part.first_row, tuple(part.row_groups))
        # Text: the source's header line, then the part's own byte range.
        handle.write(remote.read_range(0, event["header_end"]))
        handle.write(remote.read_range(part.start, part.end))
    return Part(part.index, event["header_end"], local.stat().st_size, part.first_row)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def stage(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    part = Part(**event["part"])
    with tempfile.TemporaryDirectory() as folder:
        here = _fetch_part(event, part, Path(folder) / "part")
        staged = Path(folder) / "staged"
        try:
            counts = stage_part(aws.config(), event["source"], Path(folder) / "part", here, event["file_id"],
                                staged, datetime.now(UTC))
        except FileRejected as exc:
            return {"index": part.index, "rejected": str(exc)}
        for path in staged.iterdir():
            aws.s3_client().upload_file(str(path), event["bucket"],
                                        settings.staging_folder(event["file_id"]) + path.name)
    return {"index": part.index, "rows_in": counts["rows_in"]}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def commit(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    s3, bucket, prefix = aws.s3_client(), event["bucket"], settings.staging_folder(event["file_id"])
    uri = f"s3://{bucket}/{event['key']}"
    rejected = [r["rejected"] for r in event["staged"] if r.get("rejected")]
    with tempfile.TemporaryDirectory() as folder:
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for o in page.get("Contents", [])]
        for key in keys:
            s3.download_file(bucket, key, str(Path(folder) / Path(key).name))
        outcome = commit_parts(aws.store(), aws.config(), event["source"], event["file_id"], uri, Path(folder),
                               len(event["parts"]), event["fingerprint"], datetime.now(UTC),
                               rejected[0] if rejected else None, bus=aws.bus(), salt=aws.salt())
    _remove_staged(bucket, event["file_id"])
    logger.info("file committed", extra={"file_id": outcome.file_id, "status": outcome.status,
                                         "rows_in": outcome.rows_in, "rows_quarantined": outcome.rows_quarantined})
    return {"file_id": outcome.file_id, "status": outcome.status, "rows_in": outcome.rows_in}


def _remove_staged(bucket: str, file_id: str) -> int:
    s3, prefix = aws.s3_client(), settings.staging_folder(file_id)
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]]})
    return len(keys)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def fail(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The machine's catch: the file is recorded as failed (the error's name only: a message may quote a row) and
    its staged parts are removed; a later notification of the same file tries it again."""
    file_id = file_id_for(event["source"], event["fingerprint"])
    uri = f"s3://{event['bucket']}/{event['key']}"
    error = event.get("error", {}).get("Error", "unknown error")
    removed = _remove_staged(event["bucket"], file_id)
    outcome = FileOutcome(file_id, event["source"], uri, "failed", f"ingestion in parts failed: {error}")
    record_file(aws.store(), aws.bus(), outcome, event["fingerprint"], datetime.now(UTC))
    logger.error("large file failed", extra={"file_id": file_id, "error": error, "staged_removed": removed})
    return {"file_id": file_id, "status": "failed", "error": error}
