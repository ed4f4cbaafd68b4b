"""``nasplug plot RUN_DIR``: pictures of a finished (or running) search, as PNG and SVG.

Writes into ``RUN_DIR/plots/`` (or another folder): ``architecture`` (the
derived cells or blocks), ``distribution`` (every choice's probability per
decision over epochs) and ``curves`` (normalised entropy and accuracies,
pruning events; losses and learning rate). ``nasplug plot RUN RUN ...`` instead draws
``comparison`` (nasplug.plots.compare): the runs' curves overlaid. Needs matplotlib:
``pip install 'nasplug[plot]'``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasplug.core.schema import SchemaError
from nasplug.runs.files import atomic_write, read_json_file, read_json_lines, refuse_overwrite
from nasplug.runs.history import check_history_record
from nasplug.runs.run_config import CONFIG_FILE
from nasplug.core.errors import NasplugError

if TYPE_CHECKING:
    from nasplug.plugin import Hooks

FORMATS = ("png", "svg")
PLOT_DIR = "plots"
DPI = 150


class PlotError(NasplugError, RuntimeError):
    """A run cannot be plotted; the message names the folder or file and why."""


def _read_history(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "history.jsonl"
    if not run_dir.is_dir():
        raise PlotError(f"{run_dir}: no such run directory")
    if not path.is_file():
        raise PlotError(f"{run_dir}: not a nasplug run directory (no history.jsonl)")
    records = read_json_lines(path, PlotError, "nasplug search history")
    for number, record in enumerate(records, start=1):
        try:
            check_history_record(record, number, f"{path} line {number}")
        except SchemaError as exc:
            raise PlotError(str(exc)) from exc
    if not records:
        raise PlotError(f"{path}: no epoch recorded yet")
    return records


def _genotype(run_dir: Path, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The final genotype, or the latest epoch's while the search is still running."""
    path = run_dir / "genotype.json"
    if path.is_file():
        genotype = read_json_file(path, PlotError, "genotype file")
        if not isinstance(genotype, dict):
            raise PlotError(f"{path}: not a genotype file (a {type(genotype).__name__}, not an object)")
        return genotype
    return records[-1]["genotype"]


def _save(figure: Any, folder: Path, name: str, formats: Sequence[str]) -> list[Path]:
    written = []
    for fmt in formats:
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=DPI)
        path = folder / f"{name}.{fmt}"
        atomic_write(path, lambda handle: handle.write(buffer.getvalue()))
        written.append(path)
    return written


def refuse_replacing(folder: Path, names: Sequence[str], formats: Sequence[str]) -> None:
    """Refuse, before anything is drawn, to replace a picture already in ``folder`` (a user's ``--out``)."""
    for name in names:
        for fmt in formats:
            refuse_overwrite(folder / f"{name}.{fmt}", False)


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None,
             formats: Sequence[str] = FORMATS, *, hooks: Hooks, replace: bool = True) -> list[Path]:
    """Draw the run's pictures; return the files written. ``hooks`` knows the run's space; with
    ``replace`` False a picture already in the folder is refused (WriteError)."""
    try:
        from nasplug.plots import diagrams, history
    except ImportError as exc:
        raise PlotError("nasplug plot needs matplotlib: pip install 'nasplug[plot]'") from exc
    run_dir = Path(run_dir)
    records = _read_history(run_dir)
    genotype = _genotype(run_dir, records)
    folder = Path(out_dir) if out_dir is not None else run_dir / PLOT_DIR
    config = _config(run_dir)
    title = f"{config.get('controller', '?')} on {genotype.get('space', '?')}, {config.get('dataset', '?')}"
    if not replace:
        drawn = ["architecture", *(["distribution"] if records[-1].get("distribution") else []), "curves"]
        refuse_replacing(folder, drawn, formats)
    drawing = diagrams.DRAWINGS.get(genotype.get("space"))
    architecture = drawing(genotype) if drawing else diagrams.text_figure(_describe(genotype, hooks), title)
    written = _save(architecture, folder, "architecture", formats)
    if records[-1].get("distribution"):
        written += _save(history.distribution_figure(records, title), folder, "distribution", formats)
    written += _save(history.curves_figure(records, title), folder, "curves", formats)
    return written


def plot_comparison(run_dirs: Sequence[str | Path], out_dir: str | Path | None = None,
                    formats: Sequence[str] = FORMATS, *, replace: bool = True) -> list[Path]:
    """Overlay the runs' curves in ``comparison.{png,svg}``; return the files written.

    ``out_dir`` defaults to ``comparison/`` beside the first run's folder; with ``replace`` False a
    picture already there is refused.
    """
    try:
        from nasplug.plots import compare
    except ImportError as exc:
        raise PlotError("nasplug plot needs matplotlib: pip install 'nasplug[plot]'") from exc
    folders = [Path(run_dir) for run_dir in run_dirs]
    runs = [compare.ComparedRun(folder.resolve().name, _read_history(folder), _config(folder)) for folder in folders]
    folder = Path(out_dir) if out_dir is not None else folders[0].resolve().parent / "comparison"
    if not replace:
        refuse_replacing(folder, ["comparison"], formats)
    return _save(compare.comparison_figure(runs), folder, "comparison", formats)


def _config(run_dir: Path) -> dict[str, Any]:
    """The run's saved configuration for the titles; empty where it is missing or unreadable (a run
    copied without its config still plots)."""
    try:
        data = read_json_file(run_dir / CONFIG_FILE, PlotError, "nasplug run configuration")
    except PlotError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(genotype: dict[str, Any], hooks: Hooks) -> str:
    entry = hooks.space_entry(str(genotype.get("space")))
    return entry.cls.describe(entry.cls.parse_genotype(genotype, "genotype.json"))
