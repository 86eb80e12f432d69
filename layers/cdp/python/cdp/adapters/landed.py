"""The files a person's rows may be in outside the tables (erasure's ``LandedFiles``): on a local disk, or in S3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cdp.adapters.files import replace_file
from cdp.privacy.rewrite import without_rows
from cdp.settings import CONTACT_CARDS_FOLDER


def _events_not_about(lines: list[str], profile_ids: set[str]) -> list[str]:
    """An outbox's lines (one event each) but those about these profiles."""
    return [line for line in lines if not line or json.loads(line)["detail"].get("profile_id") not in profile_ids]


class LocalFiles:
    """Landed files are the local paths ingestion recorded; delivered events are the local bus's outbox files, and
    contact cards are under ``<outbox>/<channel>/contacts/<profile id>/``."""

    def __init__(self, outbox: Path):
        self.outbox = outbox

    def remove_rows(self, uri: str, file_format: str, rows: set[int], delimiter: str | None) -> int:
        path = Path(uri)
        if not path.is_file():
            return 0
        content, removed = without_rows(path.read_bytes(), file_format, rows, delimiter)
        if removed:
            replace_file(path, content)
        return removed

    def remove_events(self, profile_ids: set[str]) -> int:
        removed = 0
        for path in sorted(self.outbox.glob("*.jsonl")) if self.outbox.is_dir() else []:
            lines = path.read_text(encoding="utf-8").splitlines()
            kept = _events_not_about(lines, profile_ids)
            if len(kept) != len(lines):
                removed += len(lines) - len(kept)
                replace_file(path, ("\n".join(kept) + "\n" if kept else "").encode("utf-8"))
        for cards in self.outbox.glob(f"*/{CONTACT_CARDS_FOLDER}/*") if self.outbox.is_dir() else []:
            if cards.name in profile_ids:
                shutil.rmtree(cards)
        return removed

    def purge(self, locations: list[str]) -> None:
        for location in locations:
            Path(urlparse(location).path).unlink(missing_ok=True)


class S3Files:
    """Landed files are S3 objects (``s3://bucket/key``) in a versioned bucket; delivered events are the channels'
    outbox objects (``outbox/<channel>/``), where contact cards are too (``outbox/<channel>/contacts/<profile id>/``).
    A rewritten object becomes the only version: the earlier ones, which still hold the rows, are deleted; a person's
    cards go with every version."""

    def __init__(self, s3: Any, bucket: str, outbox_prefix: str):
        self.s3 = s3
        self.bucket = bucket
        self.outbox_prefix = outbox_prefix

    def remove_rows(self, uri: str, file_format: str, rows: set[int], delimiter: str | None) -> int:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            content = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return 0
        rewritten, removed = without_rows(content, file_format, rows, delimiter)
        if removed:
            self._replace(bucket, key, rewritten)
        return removed

    def remove_events(self, profile_ids: set[str]) -> int:
        # Every version: an outbox file or card the lifecycle expired is still there, noncurrent, for some days.
        versions = [version for page in self.s3.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=self.outbox_prefix) for version in page.get("Versions", [])]
        removed: set[str] = set()
        rewritten: set[str] = set()
        for version in versions:
            key, version_id = version["Key"], version["VersionId"]
            parts = key.removeprefix(self.outbox_prefix).split("/")
            if len(parts) > 2 and parts[1] == CONTACT_CARDS_FOLDER:
                if parts[2] in profile_ids:
                    self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
                continue
            if not key.endswith(".jsonl") or key in rewritten:
                continue
            content = self.s3.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)["Body"].read()
            lines = content.decode().splitlines()
            kept = _events_not_about(lines, profile_ids)
            if len(kept) == len(lines):
                continue
            removed.update(set(lines) - set(kept))
            if version["IsLatest"]:
                # The rewrite becomes the file's only version.
                self._replace(self.bucket, key, ("\n".join(kept) + "\n" if kept else "").encode())
                rewritten.add(key)
            else:
                self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        return len(removed)

    def purge(self, locations: list[str]) -> None:
        for location in locations:
            bucket, _, key = location.split("://", 1)[1].partition("/")
            self._delete_versions(bucket, key)

    def _delete_versions(self, bucket: str, key: str, keep: str | None = None) -> None:
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if version["Key"] == key and version["VersionId"] != keep:
                    self.s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])

    def _replace(self, bucket: str, key: str, content: bytes) -> None:
        written = self.s3.put_object(Bucket=bucket, Key=key, Body=content, Metadata={"cdp-erasure": "rewritten"})
        self._delete_versions(bucket, key, keep=written.get("VersionId"))
