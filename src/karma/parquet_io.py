"""Parquet writing in bounded batches, so a scan's memory never grows with the dump."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def read_stage_table(path: str | Path, columns: Sequence[str], what: str) -> pa.Table:
    """A Parquet file the data stage wrote, checked for the columns a later stage relies on."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist; run the data stage first")
    table = pq.read_table(path)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(f"{what} {path} lacks column(s) {', '.join(missing)}; expected "
                         f"{', '.join(columns)}, as the data stage writes them")
    return table


class BatchedParquetWriter:
    """Collects rows and flushes every ``batch_rows``; always writes a file, even an empty one."""

    def __init__(self, path: str | Path, schema: pa.Schema, batch_rows: int = 50_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self._writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.count += len(self.rows)
            self.rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        self._tmp.replace(self.path)

    def __enter__(self) -> BatchedParquetWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._writer.close()
            self._tmp.unlink(missing_ok=True)


def write_json(data: Any, path: str | Path) -> None:
    """Atomic JSON write: a killed job never leaves a half-written file that looks finished."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
