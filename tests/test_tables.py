"""Result tables: CSV and Excel, never replacing someone else's file."""

import pandas as pd
import pytest

from xaihelpers import tables


def test_writes_csv_and_excel_and_reruns_leave_them(tmp_path):
    table = pd.DataFrame({"strategy": ["baseline", "ewc"], "lacunarity": [1.25, 1.5]})
    first = tables.save_table(table, tmp_path / "results", "study")
    assert [w.status for w in first] == ["created", "created"]
    assert pd.read_csv(first[0].path).equals(table)
    assert pd.read_excel(first[1].path).equals(table)
    again = tables.save_table(table, tmp_path / "results", "study")
    assert [w.status for w in again] == ["unchanged", "unchanged"]
    assert [w.path for w in again] == [w.path for w in first]


def test_a_different_existing_file_is_kept(tmp_path):
    mine = tmp_path / "study.csv"
    mine.write_text("my,own\n1,2\n")
    table = pd.DataFrame({"a": [1]})
    written = tables.save_table(table, tmp_path, "study", formats=["csv"])
    assert mine.read_text() == "my,own\n1,2\n"
    assert written[0].status == "renamed" and written[0].path.name == "study-2.csv"
    assert "new name" in str(written[0])


def test_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="xlsx"):
        tables.save_table(pd.DataFrame(), tmp_path, "x", formats=["parquet"])
