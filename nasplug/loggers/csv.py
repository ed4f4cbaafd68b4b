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

from nasplug.core.errors import NasplugError
from nasplug.core.markers import hookimpl
from nasplug.runs.files import atomic_write, read_text_file

SEARCH_FILE = "history.csv"
TRAIN_FILE = "metrics.csv"


class CsvError(NasplugError, ValueError):
    """A run's CSV file cannot be read back; the message names it and the line."""


def scalar_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's numbers (and None, written as an empty cell), with a tabular benchmark's numbers as
    ``benchmark/<name>``; other nested values are left out."""
    flat = {**record, **{f"benchmark/{name}": value for name, value in record.get("benchmark", {}).items()}}
    return {key: value for key, value in flat.items()
            if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))}


def append_row(path: Path, record: Mapping[str, Any]) -> None:
    """Write ``path`` with its earlier epochs' rows and this record's row, atomically."""
    row = scalar_fields(record)
    rows = [old for old in read_rows(path) if int(old["epoch"]) < int(row["epoch"])] if path.is_file() else []
    columns = list(dict.fromkeys([*(rows[0].keys() if rows else []), *row]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows([*rows, {key: "" if value is None else value for key, value in row.items()}])
    text = buffer.getvalue()
    atomic_write(path, lambda handle: handle.write(text.encode()))


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file this logger wrote, through the validating reader (nasplug.runs.files), or
    CsvError naming the file where a row has no whole-number epoch."""
    text = read_text_file(path, CsvError, "CSV file")
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise CsvError(f"{path}: not a CSV file ({exc})") from exc
    for number, row in enumerate(rows, start=2):
        epoch = row.get("epoch") or ""
        if not (epoch.isascii() and epoch.isdigit()):
            raise CsvError(f"{path} line {number}: no whole-number epoch (its JSON-lines file beside it holds "
                           f"the same numbers; delete the CSV to start it again at the next epoch)")
    return rows


class CsvLogger:
    """Writes each epoch's numbers as a CSV row in the run (or training) directory."""

    @hookimpl
    def epoch_finished(self, record: Mapping[str, Any], run_dir: str) -> None:
        append_row(Path(run_dir) / SEARCH_FILE, record)

    @hookimpl
    def train_epoch_finished(self, record: Mapping[str, Any], out_dir: str) -> None:
        append_row(Path(out_dir) / TRAIN_FILE, record)
