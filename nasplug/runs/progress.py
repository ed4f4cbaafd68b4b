"""Progress output: a live tqdm bar on a terminal or in a notebook, one plain line per epoch otherwise.

The bar (``tqdm.auto``: a widget in Jupyter) shows the epoch, n/N, rate,
elapsed time, the whole run's ETA and the running metrics, sized to the
terminal so it never wraps. Logs and CI (no TTY) get only the epoch summary
lines, so they stay short.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import click
from tqdm.auto import tqdm

FALLBACK_WIDTH, FALLBACK_ROWS = 80, 24
"""The screen size assumed where the terminal reports none (a pty without a size): tqdm would draw nothing."""
BAR_FORMAT = "{desc} |{bar}| {n_fmt}/{total_fmt} {rate_fmt}{postfix}"
SHORT_NAMES = {
    "train_loss": "loss",
    "train_accuracy": "acc",
    "entropy": "H/max",
    "loss": "loss",
    "top1": "top1",
}
"""The metrics the bar shows, by short name: what fits 80 columns (the epoch line has all of them)."""


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where stderr is no TTY but a widget can show the bar)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _terminal_width(stream: TextIO) -> int:
    """Columns of the terminal behind ``stream``; 0 where it reports none (a pty without a size, a widget)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (or ``mm:ss`` under an hour), as tqdm writes its own times."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """Reports steps within an epoch and a summary line per epoch.

    ``start_epoch(label, steps, remaining_epochs)`` opens the epoch's bar;
    ``remaining_epochs`` (after this one) lets the bar show the whole run's
    ETA from the step rate measured so far. ``ncols`` fixes the bar's width
    (default: the terminal's, followed as it is resized).
    """

    def __init__(
        self, enabled: bool = True, stream: TextIO | None = None, *, live: bool | None = None,
        ncols: int | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        if live is None:
            live = self.stream.isatty() or in_notebook()
        self.live = enabled and live
        self.ncols = ncols
        self._bar: tqdm | None = None
        self._remaining_epochs = 0
        self._steps_done = 0
        self._seconds = 0.0
        self._epoch_started = 0.0

    def start_epoch(self, label: str, steps: int, remaining_epochs: int = 0) -> None:
        if not self.live:
            return
        self._remaining_epochs = remaining_epochs
        self._epoch_started = time.perf_counter()
        sized = _terminal_width(self.stream) > 0
        ncols = self.ncols or (None if sized else FALLBACK_WIDTH)
        self._bar = tqdm(
            total=steps,
            desc=label,
            file=self.stream,
            ncols=ncols,
            nrows=None if sized else FALLBACK_ROWS,  # tqdm hides a bar at or below a 0-row screen's "last row"
            dynamic_ncols=ncols is None,
            bar_format=BAR_FORMAT,
            leave=False,
            unit="it",
            smoothing=0.1,
        )

    def step(self, metrics: Mapping[str, float]) -> None:
        if self._bar is None:
            return
        shown = [f"{SHORT_NAMES[key]} {value:.2f}" for key, value in metrics.items() if key in SHORT_NAMES]
        self._bar.set_postfix_str(" ".join([self._run_times(), *shown]), refresh=False)
        self._bar.update(1)

    def _run_times(self) -> str:
        """``run elapsed<left``: this session's time so far and, from its rate, the whole run's time left."""
        assert self._bar is not None
        done_here = self._bar.n + 1  # called just before the bar counts this step
        done = self._steps_done + done_here
        elapsed = self._seconds + time.perf_counter() - self._epoch_started
        left = (self._bar.total - done_here) + self._remaining_epochs * self._bar.total
        eta = format_duration(elapsed / done * left) if done else "?"
        return f"run {format_duration(elapsed)}<{eta}"

    def end_epoch(self, summary: str) -> None:
        self._close()
        self.message(summary)

    def _close(self) -> None:
        if self._bar is not None:
            self._steps_done += self._bar.n
            self._seconds += time.perf_counter() - self._epoch_started
            self._bar.close()
            self._bar = None

    def message(self, text: str) -> None:
        if self.enabled:
            click.echo(text, file=self.stream)

    def interrupted(self, how_to_continue: str) -> None:
        """After Ctrl-C: clear the bar and say, on a line of its own, how to continue the run."""
        self._close()
        click.echo(f"interrupted; {how_to_continue}", file=self.stream)


def resume_hint(command: str, folder: Path, has_checkpoint: bool) -> str:
    """The exact command that continues an interrupted ``nasplug run``/``train`` in ``folder``."""
    if has_checkpoint:
        return f"continue with: nasplug {command} --resume {shlex.quote(str(folder))}"
    return f"no epoch had finished, so there is nothing to resume in {folder}"
