"""Typed settings from config mappings: one place that rejects unknown keys by name.

Every stage's settings are a frozen dataclass; a typo in a YAML key would otherwise be silently
ignored and the default used, which is the worst kind of reproducibility bug.

Numbers: YAML 1.1 (PyYAML, hence Snakemake) reads ``1e-5`` as the string ``"1e-5"``, because its
float syntax needs a dot (``1.0e-5``). Every numeric key therefore accepts a numeric string, and a
whole number written as a float (``1.0e5`` for an integer key); anything else is an error that says
what to write.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal

NumberKind = Literal["int", "float"]
# Decimal and scientific notation only: no "inf", "nan", "1_000", hex.
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_number(value: Any, kind: NumberKind, where: str) -> Any:
    """``value`` as an int or float when it is a number or a numeric string; other types pass through
    unchanged for the caller's own type checks. A string that is not a number, or a fractional value
    for an integer key, is an error naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return value
    if isinstance(value, str):
        if not _NUMBER.match(value.strip()):
            example = "16" if kind == "int" else "1.0e-5"
            raise ValueError(
                f"{where}: {value!r} is not a number; write a {'whole ' if kind == 'int' else ''}"
                f"number such as {example}"
            )
        value = float(value)
    if kind == "float":
        return float(value)
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise ValueError(f"{where}: must be a whole number, got {value!r}")
        return int(value)
    return value


def numeric_kind(hint: Any) -> NumberKind | None:
    """``"int"``/``"float"`` for a field annotated ``int``, ``float`` or either ``| None``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint = members[0] if len(members) == 1 else None
    if hint is float:
        return "float"
    if hint is int:
        return "int"
    return None


def checked_kwargs(cls: type, raw: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """Keyword arguments for dataclass ``cls`` from ``raw``.

    Unknown keys are an error naming them and ``where`` (the config section). Numeric fields
    (annotated ``int``/``float``, optionally ``| None``) accept numbers and numeric strings, see
    :func:`parse_number`; floats also take ints.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise TypeError(f"{where} must be a mapping of settings, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        kind = numeric_kind(hints.get(key))
        values[key] = value if kind is None else parse_number(value, kind, f"{where}.{key}")
    return values


def require_positive_ints(settings: object, keys: Iterable[str], where: str) -> None:
    """Reject a count that is not a whole number >= 1 (bools included), naming ``where.key``: a zero
    batch or step count would otherwise fail deep inside training, far from the config line."""
    for key in keys:
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}.{key} must be a positive integer, got {value!r}")
