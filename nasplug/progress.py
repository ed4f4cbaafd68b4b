"""Progress output: a live bar on a terminal, one plain line per epoch otherwise (logs, CI)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TextIO

import click


def _format(metrics: Mapping[str, float]) -> str:
    return "  ".join(f"{key} {value:.4g}" for key, value in metrics.items())


class Progress:
    """Reports steps within an epoch and a summary line per epoch.

    On a TTY the current epoch is a click progress bar showing the running
    metrics; elsewhere only the summary lines are written, so logs stay short.
    """

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self._bar = None
        self._metrics: Mapping[str, float] = {}

    def start_epoch(self, label: str, steps: int) -> None:
        if not self.live:
            return
        self._bar = click.progressbar(
            length=steps,
            label=label,
            file=self.stream,
            item_show_func=lambda _: _format(self._metrics) if self._metrics else None,
        )
        self._bar.__enter__()

    def step(self, metrics: Mapping[str, float]) -> None:
        if self._bar is not None:
            self._metrics = metrics
            self._bar.update(1)

    def end_epoch(self, summary: str) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        self.message(summary)

    def message(self, text: str) -> None:
        if self.enabled:
            click.echo(text, file=self.stream)
