"""Model artefacts: versioned JSON files in a local folder or under the data bucket's ``models/`` prefix.

``LATEST`` names the version a run loads; a new version is written whole before ``LATEST`` moves to it, so a run
never reads half a model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cdp import settings


class FolderModels:
    def __init__(self, folder: Path):
        self.folder = folder

    def save(self, name: str, version: str, artefact: dict[str, Any]) -> None:
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{version}.json").write_text(json.dumps(artefact, sort_keys=True), encoding="utf-8")
        (folder / "LATEST").write_text(version, encoding="utf-8")

    def latest(self, name: str) -> tuple[str, dict[str, Any]] | None:
        pointer = self.folder / name / "LATEST"
        if not pointer.exists():
            return None
        version = pointer.read_text(encoding="utf-8").strip()
        return version, json.loads((self.folder / name / f"{version}.json").read_text(encoding="utf-8"))


class S3Models:
    def __init__(self, s3: Any, bucket: str, prefix: str = settings.MODELS_PREFIX):
        self.s3, self.bucket, self.prefix = s3, bucket, prefix

    def save(self, name: str, version: str, artefact: dict[str, Any]) -> None:
        body = json.dumps(artefact, sort_keys=True).encode("utf-8")
        self.s3.put_object(Bucket=self.bucket, Key=f"{self.prefix}{name}/{version}.json", Body=body)
        self.s3.put_object(Bucket=self.bucket, Key=f"{self.prefix}{name}/LATEST", Body=version.encode())

    def latest(self, name: str) -> tuple[str, dict[str, Any]] | None:
        try:
            pointer = self.s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}{name}/LATEST")
        except self.s3.exceptions.NoSuchKey:
            return None
        version = pointer["Body"].read().decode().strip()
        body = self.s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}{name}/{version}.json")["Body"].read()
        return version, json.loads(body)
