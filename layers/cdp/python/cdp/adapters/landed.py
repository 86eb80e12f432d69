"""The files a person's rows may be in outside the tables (erasure's ``LandedFiles``): on a local disk, or in S3."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cdp.privacy.rewrite import without_rows


def _replace_file(path: Path, content: bytes) -> None:
    # Written aside, then moved over: a reader sees the old file or the new one, never half of one.
    temporary = path.with_name(f".{path.name}.erasing")
    temporary.write_bytes(content)
    os.replace(temporary, path)


class LocalFiles:
    """Landed files are the local paths ingestion recorded; delivered events are the local bus's outbox files."""

    def __init__(self, outbox: Path):
        self.outbox = outbox

    def remove_rows(self, uri: str, file_format: str, rows: set[int], delimiter: str | None) -> int:
        path = Path(uri)
        if not path.is_file():
            return 0
        content, removed = without_rows(path.read_bytes(), file_format, rows, delimiter)
        if removed:
            _replace_file(path, content)
        return removed

    def remove_events(self, profile_ids: set[str]) -> int:
        removed = 0
        for path in sorted(self.outbox.glob("*.jsonl")) if self.outbox.is_dir() else []:
            lines = path.read_text(encoding="utf-8").splitlines()
            kept = [line for line in lines if not line or json.loads(line)["detail"].get("profile_id")
                    not in profile_ids]
            if len(kept) != len(lines):
                removed += len(lines) - len(kept)
                _replace_file(path, ("\n".join(kept) + "\n" if kept else "").encode("utf-8"))
        return removed


class S3Files:
    """Landed files are S3 objects (``s3://bucket/key``) in a versioned bucket: the rewritten object becomes the only
    version, the earlier ones (which still hold the rows) are deleted. Delivered events live in the channels'
    systems, reached through the bus, not here."""

    def __init__(self, s3: Any):
        self.s3 = s3

    def remove_rows(self, uri: str, file_format: str, rows: set[int], delimiter: str | None) -> int:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            content = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return 0
        rewritten, removed = without_rows(content, file_format, rows, delimiter)
        if not removed:
            return 0
        written = self.s3.put_object(Bucket=bucket, Key=key, Body=rewritten,
                                     Metadata={"cdp-erasure": "rows-removed"})
        versions = self.s3.get_paginator("list_object_versions")
        for page in versions.paginate(Bucket=bucket, Prefix=key):
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if version["Key"] == key and version["VersionId"] != written.get("VersionId"):
                    self.s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
        return removed

    def remove_events(self, profile_ids: set[str]) -> int:
        return 0
