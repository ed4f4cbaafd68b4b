"""A run's ``config.json``: the saved configuration classes' checks and JSON round trip, read and write.

Search (``SearchConfig``) and training (``TrainConfig``) each save one attrs class with the run's
environment record beside it, so a resume needs only the folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import attrs

from nasplug.runs.environment import ENVIRONMENT_KEY, split_environment
from nasplug.runs.files import read_json_file, write_json

CONFIG_FILE = "config.json"

Saved = TypeVar("Saved", bound="SavedConfig")


def reject_invalid(config: Any, checks: Mapping[str, bool], error: type[Exception], what: str) -> None:
    """Raise ``error`` naming every field whose check failed, with its value."""
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        values = ", ".join(f"{name}={getattr(config, name)!r}" for name in bad)
        raise error(f"invalid {what}: {values}")


class SavedConfig:
    """Mixed into an attrs configuration class saved as ``config.json``.

    ``error`` is the class's NasplugError for a bad file; ``kind`` names the folder in messages
    ("run", "training").
    """

    error: ClassVar[type[Exception]]
    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls: type[Saved], data: Any, source: str) -> Saved:
        """Build the configuration from a saved JSON object; unknown keys and wrong types name ``source``."""
        if not isinstance(data, dict):
            raise cls.error(f"{source}: expected a JSON object")
        known = {field.name for field in attrs.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise cls.error(f"{source}: unknown configuration keys: {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise cls.error(f"{source}: {exc}") from exc


def read_saved_config(folder: Path, cls: type[Saved]) -> tuple[Saved, Mapping[str, Any]]:
    """The configuration saved in ``folder``'s ``config.json`` and its environment record (empty if old)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise cls.error(f"{folder}: not a nasplug {cls.kind} directory (no {CONFIG_FILE})")
    data, environment = split_environment(read_json_file(path, cls.error, f"nasplug {cls.kind} configuration"))
    return cls.from_json(data, str(path)), environment


def write_saved_config(folder: Path, config: SavedConfig, environment: Mapping[str, Any]) -> None:
    """Write ``config.json``: the configuration with the environment record of the run's start."""
    write_json(Path(folder) / CONFIG_FILE, {**config.to_json(), ENVIRONMENT_KEY: dict(environment)})
