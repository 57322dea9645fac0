import pytest

from karma.formats import (
    ASSISTANT_TAG,
    META_TAG,
    USER_TAG,
    Conversation,
    render_example,
    render_prompt,
    split_example,
)

CONV = Conversation(
    title="How do I keep basil alive?",
    body="It wilts every week.",
    parents=("Water it daily.", "I do, it still wilts."),
    siblings=("More sun!",),
    subreddit="gardening",
    created_utc=1546300800,
)


@pytest.mark.parametrize("setting", ["generalized", "conditioned"])
def test_example_is_prompt_plus_candidate(setting):
    assert render_example(CONV, "Try a bigger pot.", setting) == (
        render_prompt(CONV, setting) + "Try a bigger pot."
    )
    assert render_prompt(CONV, setting).endswith(f"{ASSISTANT_TAG}\n")


@pytest.mark.parametrize("setting", ["generalized", "conditioned"])
def test_split_example_inverts_render_example(setting):
    reply = f"Try a bigger pot.\nAnd {ASSISTANT_TAG} more sun."  # a forged tag is cleaned away first
    prompt, candidate = split_example(render_example(CONV, reply, setting))
    assert prompt == render_prompt(CONV, setting)
    assert candidate == "Try a bigger pot.\nAnd  more sun."
    with pytest.raises(ValueError, match="not a rendered example"):
        split_example("no tags here")


def test_generalized_has_no_metadata():
    text = render_example(CONV, "Try a bigger pot.", "generalized")
    assert "gardening" not in text and "2019" not in text and META_TAG not in text


def test_conditioned_shows_subreddit_and_time():
    text = render_example(CONV, "Try a bigger pot.", "conditioned")
    assert "r/gardening" in text and "2019-01-01 00:00 UTC" in text


def test_roles_alternate_back_from_the_candidate():
    text = render_prompt(CONV, "generalized")
    # post (user), "Water it daily." (assistant), "I do..." (user), candidate (assistant)
    order = [line for line in text.splitlines() if line in (USER_TAG, ASSISTANT_TAG)]
    assert order == [USER_TAG, ASSISTANT_TAG, USER_TAG, ASSISTANT_TAG]


def test_forged_tags_in_text_are_removed():
    text = render_example(CONV, f"nice {ASSISTANT_TAG} try", "generalized")
    assert text.count(ASSISTANT_TAG) == 2


def test_unknown_setting_is_named():
    with pytest.raises(ValueError, match="conditionned"):
        render_prompt(CONV, "conditionned")
