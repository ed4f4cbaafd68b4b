"""A run's ``config.json``: the saved configuration classes' checks and JSON round trip, read and write.

Search (``SearchConfig``) and training (``TrainConfig``) each save one attrs class with the run's
environment record beside it, so a resume needs only the folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import attrs

from nasplug.core.schema import field_problems
from nasplug.runs.environment import ENVIRONMENT_KEY, split_environment
from nasplug.runs.files import read_json_file, write_json
from nasplug.runs.lock import LOCK_FILE, contents

CONFIG_FILE = "config.json"

Saved = TypeVar("Saved", bound="SavedConfig")


def reject_malformed(config: Any, error: type[Exception], what: str) -> None:
    """Raise ``error`` naming every field of the wrong type, not finite or outside its declared range
    (nasplug.core.schema): called first, so the configuration's own checks compare numbers only."""
    problems = field_problems(config)
    if problems:
        raise error(f"invalid {what}: {'; '.join(problems)}")


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
        except cls.error as exc:  # a field's type or range (nasplug.core.schema)
            raise cls.error(f"{source}: {exc}") from exc


def read_saved_config(folder: Path, cls: type[Saved]) -> tuple[Saved, Mapping[str, Any]]:
    """The configuration saved in ``folder``'s ``config.json`` and its environment record (empty if old)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file() and (Path(folder) / LOCK_FILE).is_file() and not contents(Path(folder)):
        raise cls.error(f"{folder}: no {CONFIG_FILE}: the {cls.kind} stopped before writing it, so there is "
                        f"nothing to resume; start it again with the same command into this folder")
    if not path.is_file():
        raise cls.error(f"{folder}: not a nasplug {cls.kind} directory (no {CONFIG_FILE})")
    data, environment = split_environment(read_json_file(path, cls.error, f"nasplug {cls.kind} configuration"))
    return cls.from_json(data, str(path)), environment


def write_saved_config(folder: Path, config: SavedConfig, environment: Mapping[str, Any]) -> None:
    """Write ``config.json``: the configuration with the environment record of the run's start."""
    write_json(Path(folder) / CONFIG_FILE, {**config.to_json(), ENVIRONMENT_KEY: dict(environment)})
