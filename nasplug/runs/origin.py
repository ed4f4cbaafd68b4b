"""The data a run folder was made on, so that a command given the folder uses the same data by default.

``nasplug train RUN``, ``info --genotype RUN`` and ``export RUN`` read the dataset and its folder
from the run's ``config.json`` (a search's or a training's), and a training's input size, unless
told otherwise;
a genotype file or a published name has no origin and takes the command's own defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from nasplug.core.errors import NasplugError
from nasplug.runs.files import read_json_file
from nasplug.runs.run_config import CONFIG_FILE


class OriginError(NasplugError, ValueError):
    """A run folder's ``config.json`` does not say which data the run used."""


@attrs.frozen
class RunOrigin:
    """What a run folder was made on: ``kind`` is ``search`` or ``training``."""

    folder: Path
    kind: str
    dataset: str
    data_dir: str | None
    input_size: int | None
    network_options: Mapping[str, Any] = attrs.field(factory=dict)

    def data_settings(self, dataset: str | None) -> dict[str, Any]:
        """The run's dataset and folder where ``dataset`` (the one asked for) is None or the run's own;
        nothing where another dataset was asked for (its folder and size are its own).

        The input size travels from a training folder only (its network was trained at it): a
        search's ``--input-size`` is a cheap proxy for the search, and the network it found is
        trained and described at the dataset's own shape unless the user asks otherwise.
        """
        if dataset is not None and dataset.lower() != self.dataset.lower():
            return {}
        settings = {"dataset": self.dataset, "data_dir": self.data_dir}
        if self.kind == "training":
            settings["input_size"] = self.input_size
        return settings

    def taken(self, settings: Mapping[str, Any]) -> str:
        """``settings`` (name: value) described as taken from this run, for the command's first lines."""
        listed = ", ".join(f"{key}={value}" for key, value in settings.items() if value is not None)
        return f"from the run {self.folder}: {listed}" if listed else ""


def run_origin(reference: str | Path) -> RunOrigin | None:
    """The origin of run folder ``reference``, or None where it is not a folder with a ``config.json``."""
    folder = Path(reference)
    try:
        path = folder / CONFIG_FILE
        if not path.is_file():
            return None
    except OSError:  # a published name too long to be a path
        return None
    data = read_json_file(path, OriginError, "nasplug run configuration")
    if not isinstance(data, dict) or not isinstance(data.get("dataset"), str):
        raise OriginError(f"{path}: no 'dataset' entry; pass --dataset")
    training = "network_options" in data
    return RunOrigin(
        folder=folder,
        kind="training" if training else "search",
        dataset=data["dataset"],
        data_dir=data.get("data_dir"),
        input_size=data.get("input_size"),
        network_options=dict(data.get("network_options") or {}) if training else {},
    )


def taken_from_run(reference: str | Path, given: Mapping[str, Any]) -> str:
    """The line saying which data settings run folder ``reference`` supplies where ``given`` (dataset,
    data_dir, input_size as the user passed them) leaves them out; empty for a file or a published name."""
    origin = run_origin(reference)
    if origin is None:
        return ""
    return origin.taken({key: value for key, value in origin.data_settings(given.get("dataset")).items()
                         if given.get(key) is None})
