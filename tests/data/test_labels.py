import pytest

from karma.data.labels import LabelRule


@pytest.mark.parametrize(
    ("score", "parent", "label"),
    [(4, 10, 1), (3, 10, 0), (40, 100, 1), (39, 100, 0), (0, 1, 0), (1, 1, 1), (-5, 10, 0)],
)
def test_ratio_rule(score, parent, label):
    assert LabelRule(ratio=0.4).label(score, parent) == label


@pytest.mark.parametrize(("score", "label"), [(1, 1), (0, 0), (-3, 0), (7, 1)])
def test_nonpositive_parent_uses_the_reply_sign(score, label):
    rule = LabelRule()
    assert rule.label(score, 0) == label
    assert rule.label(score, -4) == label


def test_nonpositive_parent_can_be_dropped():
    rule = LabelRule(nonpositive_parent="drop")
    assert rule.label(5, 0) is None
    assert rule.label(5, 10) == 1


def test_configurable_ratio_and_validation():
    assert LabelRule.from_config({"ratio": 0.5, "nonpositive_parent": "drop"}).label(5, 10) == 1
    with pytest.raises(ValueError, match="nonpositive_parent"):
        LabelRule.from_config({"ratio": 0.4, "nonpositive_parent": "ratio"})
    with pytest.raises(ValueError, match="ratoi"):
        LabelRule.from_config({"ratoi": 0.4})
