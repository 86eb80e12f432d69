"""Model artefacts: versions saved whole, the latest one loaded, in a folder and in S3 (moto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp.adapters.models import FolderModels, S3Models


@pytest.fixture
def s3_models(moto_s3):
    return S3Models(moto_s3, "data"), moto_s3


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_the_latest_saved_version_is_the_one_loaded(where: str, tmp_path: Path, request) -> None:
    models = FolderModels(tmp_path / "models") if where == "folder" else request.getfixturevalue("s3_models")[0]
    assert models.latest("identity") is None

    models.save("identity", "2026-11-01-a", {"comparisons": [1]})
    models.save("identity", "2026-11-02-b", {"comparisons": [2]})

    assert models.latest("identity") == ("2026-11-02-b", {"comparisons": [2]})
    assert models.latest("scores") is None


def test_models_live_under_the_data_bucket_models_prefix(s3_models) -> None:
    models, s3 = s3_models
    models.save("identity", "v1", {"comparisons": []})
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="data")["Contents"])
    assert keys == ["models/identity/LATEST", "models/identity/v1.json"]
