from dataclasses import dataclass

import pytest

from karma.settings import checked_kwargs, parse_number, require_positive_ints


@dataclass(frozen=True)
class Example:
    rate: float = 0.1
    steps: int = 3
    name: str = "x"
    limit: int | None = None


def test_unknown_keys_are_named_with_their_section():
    with pytest.raises(ValueError, match=r"train: unknown key\(s\) 'stpes'"):
        checked_kwargs(Example, {"stpes": 4}, "train")


def test_numbers_become_floats_where_the_field_is_a_float():
    kwargs = checked_kwargs(Example, {"rate": "1e-5", "steps": 4}, "train")
    assert kwargs == {"rate": 1e-5, "steps": 4} and isinstance(kwargs["rate"], float)
    assert isinstance(checked_kwargs(Example, {"rate": 2}, "train")["rate"], float)
    with pytest.raises(ValueError, match=r"train.rate: 'fast' is not a number; write a number such as 1.0e-5"):
        checked_kwargs(Example, {"rate": "fast"}, "train")


def test_integer_fields_take_whole_numbers_in_any_notation():
    assert checked_kwargs(Example, {"steps": "1e5"}, "train") == {"steps": 100000}
    assert checked_kwargs(Example, {"steps": 1.0e5}, "train") == {"steps": 100000}
    assert checked_kwargs(Example, {"limit": "12"}, "train") == {"limit": 12}
    assert checked_kwargs(Example, {"limit": None}, "train") == {"limit": None}
    with pytest.raises(ValueError, match="train.steps: must be a whole number, got 2.5"):
        checked_kwargs(Example, {"steps": "2.5"}, "train")
    with pytest.raises(ValueError, match="train.steps: 'many' is not a number; write a whole number such as 16"):
        checked_kwargs(Example, {"steps": "many"}, "train")


@pytest.mark.parametrize("text", ["inf", "nan", "1_000", "0x10", "", "1e5e5"])
def test_only_decimal_and_scientific_notation_count_as_numbers(text):
    with pytest.raises(ValueError, match="is not a number"):
        parse_number(text, "float", "k")


def test_other_types_pass_through_for_the_settings_own_checks():
    assert parse_number(True, "int", "k") is True
    assert parse_number([1], "float", "k") == [1]
    assert checked_kwargs(Example, {"name": "1e5"}, "train") == {"name": "1e5"}


def test_none_and_non_mappings():
    assert checked_kwargs(Example, None, "train") == {}
    with pytest.raises(TypeError, match="train must be a mapping"):
        checked_kwargs(Example, [1, 2], "train")


@pytest.mark.parametrize("bad", [0, -3, True, 2.0, "4", None])
def test_counts_must_be_positive_integers_and_the_error_names_the_key(bad):
    settings = Example(steps=bad)  # dataclasses do not check types; the settings' own check must
    with pytest.raises(ValueError, match=r"train\.steps must be a positive integer, got "):
        require_positive_ints(settings, ("steps",), "train")


def test_positive_counts_pass():
    require_positive_ints(Example(steps=1, limit=7), ("steps", "limit"), "train")
