"""Finding a genotype by reference: a JSON file, a run directory, a space's own notation, or a published name."""

from __future__ import annotations

from pathlib import Path

from nasplug.runs.files import read_json_file
from nasplug.core.errors import NasplugError
from nasplug.plugin import Hooks, PluginError, SpaceEntry
from nasplug.core.space import Genotype


class GenotypeError(NasplugError, ValueError):
    """A genotype reference cannot be resolved; the message names the file or name and the problem."""


def load_genotype(reference: str, hooks: Hooks, space: str | None = None) -> tuple[SpaceEntry, Genotype]:
    """Resolve ``reference`` to its space and genotype.

    ``reference`` is a genotype JSON file, a run or training directory holding
    ``genotype.json``, a genotype in a space's own notation (a benchmark's cell string), or the name of
    a published genotype (searched in ``space`` if given, else in every installed space).
    """
    path = Path(reference)
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
    except OSError:  # not a path this system can name (too long, say): a name or a space's notation
        is_dir = is_file = False
    if is_dir:
        path = path / "genotype.json"
        if not path.is_file():
            raise GenotypeError(f"{reference}: directory has no genotype.json")
    if is_dir or is_file:
        return _from_file(path, hooks, space)
    return _from_name(reference, hooks, space)


def _from_file(path: Path, hooks: Hooks, space: str | None) -> tuple[SpaceEntry, Genotype]:
    data = read_json_file(path, GenotypeError, "genotype file")
    if isinstance(data, dict) and isinstance(data.get("genotype"), dict):
        data = data["genotype"]  # results.json / run summaries embed the genotype
    if not isinstance(data, dict):
        raise GenotypeError(f"{path}: expected a JSON object, got {type(data).__name__}")
    named = data.get("space", space)
    if named is None:
        raise GenotypeError(f"{path}: no 'space' entry; pass --space")
    if not isinstance(named, str):
        raise GenotypeError(f"{path}: 'space' must be a space's name, got a {type(named).__name__}")
    if space is not None and named != space:
        raise GenotypeError(f"{path}: genotype of space {named!r}, but --space is {space!r}")
    try:
        entry = hooks.space_entry(named)
    except PluginError as exc:
        raise GenotypeError(f"{path}: {exc}") from exc
    return entry, entry.cls.parse_genotype(data, str(path))


def _from_name(name: str, hooks: Hooks, space: str | None) -> tuple[SpaceEntry, Genotype]:
    entries = [hooks.space_entry(space)] if space is not None else list(hooks.spaces().values())
    for entry in entries:
        written = entry.cls.genotype_from_text(name)
        if written is not None:
            return entry, written
    known = []
    for entry in entries:
        published = entry.cls.published_genotypes()
        if name in published:
            return entry, published[name]
        known.extend(published)
    listed = ", ".join(sorted(known)) or "none"
    raise GenotypeError(f"{name!r} is neither a genotype file, a genotype in a space's own notation nor a "
                        f"published genotype; published: {listed}")
