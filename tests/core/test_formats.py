import pytest

from karma.formats import (
    ASSISTANT_TAG,
    CHAT_TEMPLATE,
    META_TAG,
    USER_TAG,
    Conversation,
    chat_messages,
    render_example,
    render_prompt,
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
