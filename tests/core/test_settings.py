from dataclasses import dataclass

import pytest

from karma.settings import checked_kwargs


@dataclass(frozen=True)
class Example:
    rate: float = 0.1
    steps: int = 3
    name: str = "x"


def test_unknown_keys_are_named_with_their_section():
    with pytest.raises(ValueError, match=r"train: unknown key\(s\) 'stpes'"):
        checked_kwargs(Example, {"stpes": 4}, "train")


def test_numbers_become_floats_where_the_default_is_a_float():
    kwargs = checked_kwargs(Example, {"rate": "1e-5", "steps": 4}, "train")
    assert kwargs == {"rate": 1e-5, "steps": 4} and isinstance(kwargs["rate"], float)
    assert isinstance(checked_kwargs(Example, {"rate": 2}, "train")["rate"], float)
    with pytest.raises(ValueError, match="'rate' must be a number"):
        checked_kwargs(Example, {"rate": "fast"}, "train")


def test_none_and_non_mappings():
    assert checked_kwargs(Example, None, "train") == {}
    with pytest.raises(TypeError, match="train must be a mapping"):
        checked_kwargs(Example, [1, 2], "train")
