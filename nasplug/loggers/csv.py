"""The ``csv`` logger: one row per epoch of the record's numbers, for spreadsheets and pandas.

A search writes ``history.csv`` beside ``history.jsonl``, a training run
``metrics.csv`` beside ``metrics.jsonl``. Columns are the record's scalar
fields (genotype, distribution and choice names stay in the JSONL). The file
is rewritten atomically each epoch, without rows from epochs at or after the
current one, so a resumed run leaves no duplicate rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nasplug.core.markers import hookimpl
from nasplug.runs.files import atomic_write

SEARCH_FILE = "history.csv"
TRAIN_FILE = "metrics.csv"


def scalar_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's numbers (and None, written as an empty cell), with a tabular benchmark's numbers as
    ``benchmark/<name>``; other nested values are left out."""
    flat = {**record, **{f"benchmark/{name}": value for name, value in record.get("benchmark", {}).items()}}
    return {key: value for key, value in flat.items()
            if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))}


def append_row(path: Path, record: Mapping[str, Any]) -> None:
    """Write ``path`` with its earlier epochs' rows and this record's row, atomically."""
    row = scalar_fields(record)
    rows: list[dict[str, str]] = []
    if path.is_file():
        with path.open(newline="") as handle:
            rows = [old for old in csv.DictReader(handle) if int(old["epoch"]) < int(row["epoch"])]
    columns = list(dict.fromkeys([*(rows[0].keys() if rows else []), *row]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows([*rows, {key: "" if value is None else value for key, value in row.items()}])
    text = buffer.getvalue()
    atomic_write(path, lambda handle: handle.write(text.encode()))


class CsvLogger:
    """Writes each epoch's numbers as a CSV row in the run (or training) directory."""

    @hookimpl
    def epoch_finished(self, record: Mapping[str, Any], run_dir: str) -> None:
        append_row(Path(run_dir) / SEARCH_FILE, record)

    @hookimpl
    def train_epoch_finished(self, record: Mapping[str, Any], out_dir: str) -> None:
        append_row(Path(out_dir) / TRAIN_FILE, record)
