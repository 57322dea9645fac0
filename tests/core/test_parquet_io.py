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
