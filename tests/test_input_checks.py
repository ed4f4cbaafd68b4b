"""Fast checks of what nasplug reads and where it writes: every text file goes through
nasplug.runs.files' capped reader (a run's CSV files included), and a folder name the system cannot look
up is refused whatever ``Path.exists`` does."""

from __future__ import annotations

import pytest

from nasplug.loggers import csv as csv_logger
from nasplug.loggers.csv import CsvError, append_row
from nasplug.runs import files
from nasplug.runs.files import read_json_file, read_json_lines


class Refused(ValueError):
    pass


def test_a_json_file_larger_than_the_cap_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_READ_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text('{"a": "' + "x" * 100 + '"}')
    with pytest.raises(Refused, match=r"big.json: too large for a genotype file \(over 0 MiB\)"):
        read_json_file(path, Refused, "genotype file")
    lines = tmp_path / "history.jsonl"
    lines.write_text('{"epoch": 1}\n' * 10)
    with pytest.raises(Refused, match="history.jsonl: too large"):
        read_json_lines(lines, Refused)
    path.write_text('{"a": 1}')  # under the cap: read as before
    assert read_json_file(path, Refused) == {"a": 1}


def test_a_csv_rewritten_each_epoch_keeps_the_earlier_rows(tmp_path):
    path = tmp_path / csv_logger.SEARCH_FILE
    for epoch in (1, 2, 1):  # the third: a resume that repeats epoch 1
        append_row(path, {"epoch": epoch, "loss": 0.5 * epoch, "genotype": {}})
    assert path.read_text() == "epoch,loss\n1,0.5\n"


@pytest.mark.parametrize("text, fragment", [
    ("epoch,loss\n1,0.5\nabc,0.3\n", "line 3: no whole-number epoch"),
    ("epoch,loss\n²,0.5\n", "line 2: no whole-number epoch"),
    ("loss\n0.5\n", "line 2: no whole-number epoch"),
    (b"epoch\n\xff\n", "not UTF-8"),
])
def test_a_damaged_csv_is_one_error_naming_it(tmp_path, text, fragment):
    path = tmp_path / csv_logger.SEARCH_FILE
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(CsvError, match=fragment) as caught:
        append_row(path, {"epoch": 2, "loss": 0.1})
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("name, fragment", [("n" * 300, "File name too long"), ("loop/x", "symbolic links")])
def test_an_unnamable_folder_is_refused_whatever_path_exists_does(tmp_path, monkeypatch, name, fragment):
    """Python 3.14's Path.exists returns False on any OSError; the check must not rely on it raising."""
    import os
    from pathlib import Path

    from nasplug.runs.folder import refuse_unnamable

    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    monkeypatch.setattr(Path, "exists", lambda self, **kwargs: os.path.exists(self))
    with pytest.raises(Refused, match=fragment):
        refuse_unnamable(tmp_path / name, Refused)
    refuse_unnamable(tmp_path / "absent" / "run", Refused)  # absent: the caller creates it
