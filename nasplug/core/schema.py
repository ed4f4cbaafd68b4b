"""One validating layer for what nasplug reads: plain JSON values and the fields of a saved configuration.

Every file nasplug reads back (``config.json``, ``history.jsonl``, ``metrics.jsonl``, genotype JSON,
a checkpoint's records, a recipe's settings) passes through here before use, so a hand-edited or
damaged file gives one line naming the file, the field and the problem instead of a traceback later.

* :func:`check_plain` checks a JSON-like value: dicts with string keys, lists, strings, booleans,
  None, integers within 64 bits and finite floats, nested at most :data:`MAX_DEPTH` deep.
* :func:`field_problems` checks an attrs configuration's fields against the types annotated on the
  class and the inclusive ranges it declares in ``BOUNDS``: a numeric field without a declared range
  is an error of the class itself (:func:`undeclared_ranges`, checked by the tests), so a new field
  cannot forget its check.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from nasplug.core.errors import NasplugError

MAX_DEPTH = 32
"""How deep a value read from a file may nest (a genotype needs 3, a history record 4)."""
INT_RANGE = (-(2**63), 2**64 - 1)
"""Integers beyond 64 bits are refused anywhere (torch's seeds take up to 2⁶⁴ − 1)."""
SEED_RANGE = (0, 2**64 - 1)
"""Every seed's range: what torch's and numpy's generators take (nasplug.data.loaders checks the same)."""


class SchemaError(NasplugError, ValueError):
    """A value read from a file or given as a setting has the wrong type or lies outside its range."""


def check_plain(value: Any, where: str, depth: int = 0) -> None:
    """Raise SchemaError naming ``where`` (and the key path) unless ``value`` is plain, finite JSON."""
    if depth > MAX_DEPTH:
        raise SchemaError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise SchemaError(f"{where}: the integer {_short(value)} lies outside 64 bits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SchemaError(f"{where}: {value} is not a finite number")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise SchemaError(f"{where}: key {key!r} is not a string")
            check_plain(item, f"{where}[{key!r}]", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]", depth + 1)
        return
    raise SchemaError(f"{where}: a {type(value).__name__} is not a plain value (number, string, list, object)")


def _short(value: int) -> str:
    digits = len(str(abs(value))) if value.bit_length() < 10000 else value.bit_length() * 30103 // 100000
    return f"of about {digits} digits" if digits > 24 else str(value)


# ---------------------------------------------------------------------------- configuration fields

NUMBER_TYPES = (int, float)


def _alternatives(annotation: Any) -> tuple[Any, ...]:
    """The types a field's annotation allows (``int | None`` → ``(int, NoneType)``)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _accepts(kind: Any, value: Any) -> bool:
    origin = typing.get_origin(kind) or kind
    if kind is type(None):
        return value is None
    if kind is Any:
        return True
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is dict:
        return isinstance(value, dict)
    if origin is list:
        return isinstance(value, list)
    return isinstance(value, origin)


def _numeric(annotation: Any) -> bool:
    """A number, or a container (``tuple[float, ...]``, ``dict[str, int]``) holding numbers at any depth."""
    return any(kind in NUMBER_TYPES or any(_numeric(arg) for arg in typing.get_args(kind) if arg is not ...)
               for kind in _alternatives(annotation))


def _numbers(value: Any) -> list[Any]:
    """Every number in ``value`` (itself, or inside its lists, tuples and dict values)."""
    if isinstance(value, NUMBER_TYPES) and not isinstance(value, bool):
        return [value]
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [number for item in value for number in _numbers(item)]
    return []


def _fields(cls: type) -> tuple[attrs.Attribute, ...]:
    attrs.resolve_types(cls)
    return attrs.fields(cls)


def undeclared_ranges(cls: type) -> list[str]:
    """The numeric fields of attrs class ``cls`` without a range in its ``BOUNDS`` (should be none)."""
    bounds = getattr(cls, "BOUNDS", {})
    return [field.name for field in _fields(cls) if _numeric(field.type) and field.name not in bounds]


def field_problems(config: Any) -> list[str]:
    """What is wrong with each field of attrs instance ``config``: type, finiteness, declared range, nesting.

    Empty when every field holds a value of its annotated type, numbers are finite and within
    ``type(config).BOUNDS`` (inclusive ``(low, high)``), and containers hold plain JSON.
    """
    cls = type(config)
    bounds: Mapping[str, tuple[float, float]] = getattr(cls, "BOUNDS", {})
    problems = []
    for field in _fields(cls):
        value = getattr(config, field.name)
        allowed = _alternatives(field.type)
        if not any(_accepts(kind, value) for kind in allowed):
            names = " or ".join("null" if kind is type(None) else getattr(kind, "__name__", str(kind))
                                for kind in allowed)
            problems.append(f"{field.name} must be {names}, not {_describe(value)}")
            continue
        try:
            check_plain(value, field.name)
        except SchemaError as exc:
            problems.append(str(exc))
            continue
        if field.name in bounds:
            low, high = bounds[field.name]
            outside = [number for number in _numbers(value) if not low <= number <= high]
            if outside:
                shown = _short(outside[0]) if isinstance(outside[0], int) else repr(outside[0])
                named = f"{field.name}={shown}" if outside[0] is value else f"{field.name} holds {shown}, which"
                problems.append(f"{named} lies outside {_bound(low)} to {_bound(high)}")
    return problems


def _bound(limit: float) -> str:
    return str(limit) if isinstance(limit, int) else f"{limit:g}"


def _describe(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"the integer {_short(value)}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
