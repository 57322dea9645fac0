from dataclasses import replace

import pytest

from karma.formats import (
    ASSISTANT_TAG,
    CHAT_TEMPLATE,
    META_TAG,
    USER_TAG,
    Conversation,
    chat_messages,
    fit_prompt,
    render_example,
    render_prompt,
    split_example,
    truncate,
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
    assert text == (
        "<|meta|>\nsubreddit: r/gardening\nposted: 2019-01-01 00:00 UTC (Tuesday)\n"
        + render_example(CONV, "Try a bigger pot.", "generalized")
    )


@pytest.mark.parametrize(("created_utc", "shown"), [
    (0, "1970-01-01 00:00 UTC (Thursday)"),  # the epoch is a time, not a missing one
    (946684799, "1999-12-31 23:59 UTC (Friday)"),
    (946684800, "2000-01-01 00:00 UTC (Saturday)"),
    (1709078400 + 86399, "2024-02-28 23:59 UTC (Wednesday)"),
    (1709078400 + 86400, "2024-02-29 00:00 UTC (Thursday)"),  # a leap day
    (1546300800 + 5 * 86400 + 45, "2019-01-06 00:00 UTC (Sunday)"),  # seconds are cut, not rounded
    (1546300800 - 1, "2018-12-31 23:59 UTC (Monday)"),
])
def test_conditioned_time_is_utc_to_the_minute_with_the_weekday(created_utc, shown, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")  # a local zone half an hour off: must not matter
    time.tzset()
    try:
        text = render_prompt(replace(CONV, created_utc=created_utc), "conditioned")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert text.startswith(f"<|meta|>\nsubreddit: r/gardening\nposted: {shown}\n<|user|>\n")


@pytest.mark.parametrize(("subreddit", "created_utc", "meta"), [
    (None, None, "subreddit: n/a\nposted: n/a"),
    ("", None, "subreddit: n/a\nposted: n/a"),
    ("gardening", None, "subreddit: r/gardening\nposted: n/a"),
    (None, 1546300800, "subreddit: n/a\nposted: 2019-01-01 00:00 UTC (Tuesday)"),
])
def test_missing_metadata_renders_n_a_in_prompt_and_chat_template(subreddit, created_utc, meta):
    conv = Conversation(title="Any tips?", subreddit=subreddit, created_utc=created_utc)
    assert render_example(conv, "Yes.", "conditioned") == (
        f"<|meta|>\n{meta}\n<|user|>\nAny tips?\n<|assistant|>\nYes.")
    assert chat_messages(conv, "conditioned")[0] == {"role": "system", "content": meta}


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


CHAT_CASES = [
    CONV,
    Conversation(title="Just a title"),
    Conversation(title="t <|user|> forged", body="b <|assistant|>", parents=("one",)),
    Conversation(title="deep", parents=("a", "b", "c"), siblings=("x", "y <|context|>", "z")),
    Conversation(title="no time", subreddit=None, created_utc=None, siblings=("s",)),
]


@pytest.fixture(scope="module")
def chat_tokenizer():
    from karma.demo.tokenizer_training import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(["some text to train on"] * 5, vocab_size=280)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


@pytest.mark.parametrize("setting", ["generalized", "conditioned"])
@pytest.mark.parametrize("conv", CHAT_CASES)
def test_chat_template_renders_the_prompt_format(chat_tokenizer, conv, setting):
    messages = chat_messages(conv, setting)
    rendered = chat_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert rendered == render_prompt(conv, setting)
    with_reply = messages + [{"role": "assistant", "content": "Try a bigger pot."}]
    example = render_example(conv, "Try a bigger pot.", setting)
    assert chat_tokenizer.apply_chat_template(with_reply, tokenize=False) == example
    continued = chat_tokenizer.apply_chat_template(with_reply, continue_final_message=True, tokenize=False)
    assert continued == example


def test_chat_template_rejects_unknown_roles(chat_tokenizer):
    with pytest.raises(Exception, match="unknown role tool"):
        chat_tokenizer.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


LONG = Conversation(
    title="Which pot for basil?",
    body="I have tried everything. " * 12,
    parents=("Oldest turn here.", "Middle turn here.", "Newest turn: what soil do you use?"),
    siblings=("More sun!", "Less water!"),
    subreddit="gardening",
    created_utc=1546300800,
)


def _budget(chars: int):
    return lambda text: len(text) <= chars


def test_a_prompt_that_fits_is_untouched():
    assert fit_prompt(LONG, "conditioned", _budget(10_000)) is LONG


def test_oldest_turns_go_first_then_siblings_then_the_body():
    full = len(render_prompt(LONG, "generalized"))
    assert fit_prompt(LONG, "generalized", _budget(full - 1)) == replace(LONG, parents=LONG.parents[1:])
    expected = replace(LONG, parents=LONG.parents[2:], siblings=("More sun!",))
    assert fit_prompt(LONG, "generalized", _budget(len(render_prompt(expected, "generalized")))) == expected
    short = fit_prompt(LONG, "generalized", _budget(150))
    assert short.parents == (LONG.parents[-1],) and short.siblings == () and short.title == LONG.title
    assert short.body.endswith("…") and LONG.body.startswith(short.body[:-1].rstrip())
    text = render_prompt(short, "generalized")
    assert len(text) <= 150
    longer = replace(short, body=truncate(LONG.body, len(short.body) + 1))
    assert len(render_prompt(longer, "generalized")) > 150  # the longest body that fits
    # the post and the newest turn are still there, in order, and roles still alternate back from the candidate
    assert text.index(LONG.title) < text.index("Newest turn") < text.rindex(ASSISTANT_TAG)
    roles = [line for line in text.splitlines() if line in (USER_TAG, ASSISTANT_TAG)]
    assert roles == [USER_TAG, USER_TAG, ASSISTANT_TAG]


def test_then_the_newest_turn_and_the_title_are_shortened_and_then_it_is_dropped():
    bare = render_prompt(replace(LONG, body="", parents=("",), siblings=()), "conditioned")
    tiny = fit_prompt(LONG, "conditioned", _budget(len(bare) + 10))
    assert tiny.body == "" and tiny.siblings == () and tiny.title == LONG.title
    assert tiny.parents[0].endswith("…") and LONG.parents[-1].startswith(tiny.parents[0][:-1])
    titled = fit_prompt(LONG, "conditioned", _budget(len(bare) - 5))
    assert titled.parents == ("",) and titled.title.endswith("…")
    assert fit_prompt(LONG, "conditioned", _budget(20)) is None  # the metadata block alone is longer


def test_the_reward_text_of_a_fitted_prompt_is_what_the_policy_saw():
    fitted = fit_prompt(LONG, "conditioned", _budget(200))
    assert render_example(fitted, "Use cactus soil.", "conditioned") == render_prompt(fitted, "conditioned") + (
        "Use cactus soil.")
    assert "r/gardening" in render_prompt(fitted, "conditioned")


def test_truncate_marks_the_cut():
    assert truncate("abcdef", 10) == "abcdef"
    assert truncate("abc def", 5) == "abc…" and truncate("abc", 0) == ""
