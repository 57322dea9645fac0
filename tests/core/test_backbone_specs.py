"""The torch-free spec check agrees with the installed transformers config classes."""

import dataclasses

import pytest

from karma.backbone_specs import SPEC_FIELDS, VOCAB_KEYS, checked_spec
from karma.backbones import ARCHITECTURES
from karma.settings import numeric_kind


def _kind(field_type):
    """"int"/"float" as the config class declares it (int | float counts as float)."""
    if isinstance(field_type, str):
        return {"int": "int"}.get(field_type)
    members = set(getattr(field_type, "__args__", (field_type,))) - {type(None)}
    if members == {int, float}:
        return "float"
    return numeric_kind(field_type)


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_listed_fields_match_the_transformers_config(architecture):
    config_class = ARCHITECTURES[architecture]
    real = {f.name: _kind(f.type) for f in dataclasses.fields(config_class)}
    real.update(dict.fromkeys(config_class.attribute_map))
    for key in VOCAB_KEYS:
        real.pop(key)
    assert SPEC_FIELDS[architecture] == real


def test_architectures_are_the_same_on_both_sides():
    assert set(SPEC_FIELDS) == set(ARCHITECTURES)


def test_a_spec_is_checked_and_its_numbers_parsed():
    architecture, fields = checked_spec(
        {"architecture": "llama", "hidden_size": "64", "rms_norm_eps": "1e-6", "hidden_act": "silu"}
    )
    assert architecture == "llama"
    assert fields == {"hidden_size": 64, "rms_norm_eps": 1e-6, "hidden_act": "silu"}
    assert isinstance(fields["rms_norm_eps"], float)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"architecture": "llama", "hiden_size": 16}, r"models.m.spec: key\(s\) hiden_size are not fields"),
        ({"architecture": "mamba"}, "architecture 'mamba'.*one of llama, gpt_neox, falcon"),
        ({"hidden_size": 16}, "architecture None"),
        ({"architecture": "falcon", "vocab_size": 10}, "vocab_size: these come from the tokenizer"),
        ({"architecture": "gpt_neox", "hidden_size": 1.5}, r"models.m.spec.hidden_size: must be a whole number"),
        ({"architecture": "gpt_neox", "layer_norm_eps": "tiny"}, "models.m.spec.layer_norm_eps: 'tiny' is not a number"),
    ],
)
def test_bad_specs_are_refused_by_key(spec, message):
    with pytest.raises(ValueError, match=message):
        checked_spec(spec, "models.m.spec")


def test_a_spec_that_is_not_a_mapping():
    with pytest.raises(TypeError, match="models.m.spec must be a mapping"):
        checked_spec(["llama"], "models.m.spec")
