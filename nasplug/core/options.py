"""Declared, typed options for controllers and spaces (the CLI's ``-o key=value``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from nasplug.core.errors import NasplugError


class OptionError(NasplugError, ValueError):
    """An option key is unknown or its value does not parse."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@attrs.frozen
class Option:
    """One option: its type, default and a help line shown by ``nasplug plugins``."""

    type: type
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    bounds: tuple[float, float] | None = None
    """Inclusive (low, high) of a number: a network's size is bounded where its options are parsed."""

    def parse(self, key: str, value: Any) -> Any:
        """Convert a string (or an already typed value) to this option's type, or raise OptionError."""
        if isinstance(value, str) and self.type is not str:
            text = value.strip().lower()
            if self.type is bool:
                if text not in _TRUE | _FALSE:
                    raise OptionError(f"option {key!r} expects true/false, got {value!r}")
                parsed: Any = text in _TRUE
            else:
                try:
                    parsed = self.type(value)
                except ValueError:
                    raise OptionError(
                        f"option {key!r} expects {self.type.__name__}, got {value!r}"
                    ) from None
        elif self.type is float and isinstance(value, int) and not isinstance(value, bool):
            parsed = float(value)
        elif not isinstance(value, self.type):
            raise OptionError(f"option {key!r} expects {self.type.__name__}, got {value!r}")
        else:
            parsed = value
        if isinstance(parsed, float) and not math.isfinite(parsed):
            raise OptionError(f"option {key!r} must be a finite number, got {value!r}")
        if self.bounds is not None and not self.bounds[0] <= parsed <= self.bounds[1]:
            low, high = self.bounds
            side = f"at least {low:g}" if parsed < low else f"at most {high:g}"
            raise OptionError(f"option {key!r} must be {side}, got {parsed}")
        if self.choices is not None and parsed not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise OptionError(f"option {key!r} must be one of {allowed}, got {value!r}")
        return parsed


def resolve_options(
    declared: Mapping[str, Option], given: Mapping[str, Any], owner: str
) -> dict[str, Any]:
    """Defaults overlaid with ``given``, each parsed; unknown keys name what ``owner`` accepts."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        accepted = ", ".join(sorted(declared)) or "none"
        raise OptionError(f"unknown option {', '.join(unknown)} for {owner}; it accepts: {accepted}")
    values = {key: option.default for key, option in declared.items()}
    values.update({key: declared[key].parse(key, value) for key, value in given.items()})
    return values


def parse_assignments(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["k=v", ...]`` → ``{"k": "v"}``; a pair without ``=`` is an OptionError."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"expected key=value, got {pair!r}")
        result[key.strip()] = value.strip()
    return result
