"""Typed settings from config mappings: one place that rejects unknown keys by name.

Every stage's settings are a frozen dataclass; a typo in a YAML key would otherwise be silently
ignored and the default used, which is the worst kind of reproducibility bug.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def checked_kwargs(cls: type, raw: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """Keyword arguments for dataclass ``cls`` from ``raw``.

    Unknown keys are an error naming them and ``where`` (the config section). Where a field's
    default is a float, ints and numeric strings become floats (YAML reads ``1e-5`` as a string).
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
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(fields[key].default, float) and not isinstance(value, bool):
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise ValueError(f"{where}: {key!r} must be a number, got {value!r}") from None
            elif isinstance(value, int):
                value = float(value)
        values[key] = value
    return values
