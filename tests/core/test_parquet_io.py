"""Reading another stage's Parquet output names the file and what is wrong with it."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from karma.parquet_io import read_stage_table


def test_missing_file_and_missing_columns_are_named(tmp_path):
    path = tmp_path / "split.parquet"
    with pytest.raises(FileNotFoundError, match="reward split .*split.parquet does not exist"):
        read_stage_table(path, ["a"], "reward split")
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), path)
    assert read_stage_table(path, ["a", "b"], "reward split").num_rows == 1
    with pytest.raises(ValueError, match=r"lacks column\(s\) label; expected a, label"):
        read_stage_table(path, ["a", "label"], "reward split")


def test_a_failing_close_leaves_no_temporary_file(tmp_path, monkeypatch):
    """Issue 14, defect 9: when close() raised, `<name>.parquet.tmp` stayed behind."""
    from karma.parquet_io import BatchedParquetWriter

    path = tmp_path / "out.parquet"
    writer = BatchedParquetWriter(path, pa.schema([("n", pa.int64())]))
    writer.add({"n": 1})

    def broken_close():
        raise OSError("disk full")

    monkeypatch.setattr(writer._writer, "close", broken_close)
    with pytest.raises(OSError, match="disk full"):
        writer.close()
    assert list(tmp_path.iterdir()) == []


def test_a_value_outside_its_column_names_its_row_and_leaves_nothing(tmp_path):
    """Issue 14, defect 1: an int64 overflow at flush time named neither file nor line."""
    from karma.parquet_io import BatchedParquetWriter

    schema = pa.schema([("score", pa.int64()), ("source_file", pa.string()),
                        ("source_line", pa.int64())])
    with pytest.raises(ValueError, match=r"row 1 \{'source_file': 'RS_x.zst', 'source_line': 8\}"):
        with BatchedParquetWriter(tmp_path / "out.parquet", schema) as writer:
            writer.add({"score": 1, "source_file": "RS_x.zst", "source_line": 7})
            writer.add({"score": 10**30, "source_file": "RS_x.zst", "source_line": 8})
    assert list(tmp_path.iterdir()) == []
