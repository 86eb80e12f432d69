"""``cdp evaluate``: the ground truth in either shape, and a clear error for a file with neither."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from cdp import cli
from cdp.identity.evaluate import TruthFormatError, link_quality, read_truth, truth_frame

IDENTITIES = pd.DataFrame({"record_key": ["crm:1", "crm:2", "accounts:1", "accounts:2"],
                           "profile_id": ["P1", "P1", "P1", "P2"]})
# Predicted pairs: crm:1-crm:2, crm:1-accounts:1, crm:2-accounts:1; true pairs: crm:1-crm:2, accounts:1-accounts:2.
BY_KEY = "record_key,person_id\ncrm:1,x\ncrm:2,x\naccounts:1,y\naccounts:2,y\n"
BY_SOURCE = "source,source_id,person_id\ncrm,1,x\ncrm,2,x\naccounts,1,y\naccounts,2,y\n"


def test_both_truth_shapes_read_as_the_same_record_keys(tmp_path: Path) -> None:
    (tmp_path / "by_key.csv").write_text(BY_KEY)
    (tmp_path / "by_source.csv").write_text(BY_SOURCE)
    by_key, by_source = read_truth(tmp_path / "by_key.csv"), read_truth(tmp_path / "by_source.csv")
    assert list(by_source.columns) == ["record_key", "person_id"]
    pd.testing.assert_frame_equal(by_key, by_source)
    quality = link_quality(IDENTITIES, by_source)
    assert (quality.predicted_pairs, quality.true_pairs, quality.correct_pairs) == (3, 2, 1)
    assert quality.precision == round(1 / 3, 4) and quality.recall == 0.5


def test_source_ids_keep_their_leading_zeros_and_rows_missing_a_part_are_dropped() -> None:
    frame = pd.DataFrame({"source": ["crm", "crm", None], "source_id": ["007", None, "9"], "person_id": ["a"] * 3})
    assert truth_frame(frame).to_dict("records") == [{"record_key": "crm:007", "person_id": "a"}]


def test_a_truth_with_neither_shape_names_the_columns_expected_and_found(tmp_path: Path) -> None:
    (tmp_path / "truth.csv").write_text("key,person\ncrm:1,x\n")
    with pytest.raises(TruthFormatError) as raised:
        read_truth(tmp_path / "truth.csv")
    message = str(raised.value)
    assert "record_key,person_id" in message and "source,source_id,person_id" in message
    assert "found key,person" in message
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TruthFormatError, match="found \\(none\\)"):
        read_truth(tmp_path / "empty.csv")


class _Store:
    def read(self, table: str) -> pa.Table:
        assert table == "identities"
        return pa.Table.from_pandas(IDENTITIES)


@pytest.mark.parametrize("content", [BY_KEY, BY_SOURCE])
def test_the_command_accepts_both_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str) -> None:
    monkeypatch.setattr(cli, "open_store", lambda workdir: _Store())
    (tmp_path / "catalog.db").touch()
    (tmp_path / "truth.csv").write_text(content)
    result = CliRunner().invoke(cli.app, ["evaluate", "--workdir", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    quality = json.loads(result.stdout)
    assert (quality["precision"], quality["recall"], quality["records"]) == (round(1 / 3, 4), 0.5, 4)


def test_the_command_explains_a_truth_of_neither_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "open_store", lambda workdir: _Store())
    (tmp_path / "catalog.db").touch()
    truth = tmp_path / "elsewhere.csv"
    truth.write_text("id,cluster\n1,a\n")
    result = CliRunner().invoke(cli.app, ["evaluate", "--workdir", str(tmp_path), "--truth", str(truth)])
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "record_key,person_id" in output and "source,source_id,person_id" in output and "found id,cluster" in output


def test_the_command_refuses_to_score_when_no_record_is_in_the_truth(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "open_store", lambda workdir: _Store())
    (tmp_path / "catalog.db").touch()
    (tmp_path / "truth.csv").write_text("record_key,person_id\ncrm:99,x\n")
    result = CliRunner().invoke(cli.app, ["evaluate", "--workdir", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1
    assert "none of the 4 records" in " ".join(result.output.split())
