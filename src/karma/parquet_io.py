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


_CONVERSION_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)
# Columns that say where a row came from, named in the error when a row cannot be written.
_ORIGIN_COLUMNS = ("source_file", "source_line")


class BatchedParquetWriter:
    """Collects rows and flushes every ``batch_rows``; always writes a file, even an empty one.

    The file is written as ``<name>.tmp`` and renamed when complete; on any failure, in a flush
    or in ``close()``, the temporary file is removed. A row that does not fit the schema is named
    (by its ``source_file``/``source_line`` when it has them) instead of failing a whole batch.
    """

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

    def _bad_row(self, error: Exception) -> ValueError:
        for index, row in enumerate(self.rows):
            try:
                pa.Table.from_pylist([row], schema=self.schema)
            except _CONVERSION_ERRORS as row_error:
                origin = {k: row[k] for k in _ORIGIN_COLUMNS if k in row}
                return ValueError(f"{self.path}: row {self.count + index} {origin or row} does "
                                  f"not fit the schema ({row_error})")
        return ValueError(f"{self.path}: a batch of {len(self.rows)} rows cannot be written "
                          f"({error})")

    def _flush(self) -> None:
        if self.rows:
            try:
                table = pa.Table.from_pylist(self.rows, schema=self.schema)
            except _CONVERSION_ERRORS as error:
                raise self._bad_row(error) from error
            self._writer.write_table(table)
            self.count += len(self.rows)
            self.rows = []

    def close(self) -> None:
        try:
            self._flush()
            self._writer.close()
        except BaseException:
            self.abort()
            raise
        self._tmp.replace(self.path)

    def abort(self) -> None:
        """Give up: close the writer if it still can be, and remove the temporary file."""
        try:
            self._writer.close()
        except Exception:  # the error that made us abort is the one to report
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> BatchedParquetWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_json(data: Any, path: str | Path) -> None:
    """Atomic JSON write: a killed job never leaves a half-written file that looks finished."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
