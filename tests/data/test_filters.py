import pytest
from reddit_fixtures import post

from karma.data.filters import (
    RedditFilters,
    comment_drop_reason,
    detected_language,
    submission_drop_reason,
    unsubstantive_reason,
)
from karma.data.records import to_submission

FILTERS = RedditFilters()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, None),
        ({"over_18": True}, "over_18"),
        ({"is_self": False, "selftext": "", "url": "https://example.com/x"}, "not_text_post"),
        ({"selftext": "[removed]"}, "deleted_or_removed"),
        ({"title": "[deleted]"}, "deleted_or_removed"),
        ({"title": "  "}, "empty_text"),
        ({"title": "Hi", "selftext": ""}, "too_short"),
        ({"title": "¿Alguien sabe cómo cuidar las plantas de tomate en invierno?",
          "selftext": "Tengo un pequeño jardín y no sé qué hacer cuando llega el frío."},
         "non_english"),
    ],
)
def test_submission_filters(overrides, reason):
    assert submission_drop_reason(to_submission(post("a", **overrides)), FILTERS) == reason


def test_missing_is_self_is_inferred_from_selftext():
    record = post("a")
    del record["is_self"]
    assert to_submission(record).is_self
    record.update(selftext="", url="https://example.com/article")
    assert not to_submission(record).is_self


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("Mulch keeps the soil moist through the summer.", None),
        ("[deleted]", "deleted_or_removed"),
        ("[removed]", "deleted_or_removed"),
        ("   ", "empty_text"),
        ("ok", None),  # too short to judge the language: kept
        ("Das ist wirklich eine sehr gute Frage, ich habe das gleiche Problem im Garten.",
         "non_english"),
    ],
)
def test_comment_filters(body, reason):
    assert comment_drop_reason(body, FILTERS) == reason


def test_a_reply_in_another_language_is_substantive_but_no_example():
    body = "Das ist wirklich eine sehr gute Frage, ich habe das gleiche Problem im Garten."
    assert unsubstantive_reason(body, FILTERS) is None
    assert comment_drop_reason(body, FILTERS) == "non_english"


def test_min_comment_chars():
    strict = RedditFilters(min_comment_chars=10)
    assert unsubstantive_reason("short", strict) == comment_drop_reason("short", strict) == "too_short"


def test_urls_are_not_language_evidence():
    text = "Spielt Guerreiro bei Bayern von Anfang an?\n[View Poll](https://www.reddit.com/poll/1)"
    assert detected_language(text, FILTERS) == "de"


def test_unknown_filter_key_is_named():
    with pytest.raises(ValueError, match="min_respones"):
        RedditFilters.from_config({"min_respones": 2})
