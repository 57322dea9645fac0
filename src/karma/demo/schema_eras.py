"""Pushshift schema eras: which keys a dump line carries, in which order, and how values are typed.

Real dumps drifted from 2005 to 2025 (unsorted keys and string ``created_utc`` in old files, many
more keys later); the demo draws an era per line so readers meet that drift.
"""

from __future__ import annotations

import random
from typing import Any, Literal

Era = Literal["2012", "2019", "2023"]
ERA_WEIGHTS: dict[Era, float] = {"2012": 0.2, "2019": 0.55, "2023": 0.25}
OPTIONAL_KEY_RATE = 0.5

SUBMISSION_KEYS: dict[Era, tuple[str, ...]] = {
    # Old dumps: unsorted keys, created_utc as a string (like RS_2014-09).
    "2012": tuple(
        "gilded name link_flair_css_class id archived num_comments author_flair_css_class saved "
        "over_18 is_self from author stickied from_id secure_media url created from_kind "
        "subreddit_id score edited quarantine domain hide_score created_utc author_flair_text "
        "media_embed subreddit title secure_media_embed downs thumbnail distinguished "
        "link_flair_text permalink ups retrieved_on selftext media".split()),
    "2019": tuple(
        "archived author author_created_utc author_flair_background_color author_flair_css_class "
        "author_flair_richtext author_flair_template_id author_flair_text author_flair_text_color "
        "author_flair_type author_fullname author_patreon_flair can_gild category "
        "content_categories contest_mode created_utc distinguished domain edited gilded gildings "
        "hidden id is_crosspostable is_meta is_original_content is_reddit_media_domain "
        "is_robot_indexable is_self is_video link_flair_background_color link_flair_css_class "
        "link_flair_richtext link_flair_text link_flair_text_color link_flair_type locked media "
        "media_embed media_only no_follow num_comments num_crossposts over_18 "
        "parent_whitelist_status permalink pinned pwls quarantine score secure_media "
        "secure_media_embed selftext send_replies spoiler stickied subreddit subreddit_id "
        "subreddit_subscribers subreddit_type suggested_sort thumbnail thumbnail_height "
        "thumbnail_width title url whitelist_status wls".split()),
    "2023": tuple(
        "_meta all_awardings allow_live_comments approved_at_utc approved_by archived author "
        "author_flair_background_color author_flair_css_class author_flair_richtext "
        "author_flair_template_id author_flair_text author_flair_text_color author_flair_type "
        "author_fullname author_is_blocked author_patreon_flair author_premium awarders "
        "banned_at_utc banned_by can_gild can_mod_post category clicked content_categories "
        "contest_mode created created_utc discussion_type distinguished domain downs edited "
        "gilded gildings hidden hide_score id is_created_from_ads_ui is_crosspostable is_meta "
        "is_original_content is_reddit_media_domain is_robot_indexable is_self is_video likes "
        "link_flair_background_color link_flair_css_class link_flair_richtext link_flair_text "
        "link_flair_text_color link_flair_type locked media media_embed media_only mod_note "
        "mod_reason_by mod_reason_title mod_reports name no_follow num_comments num_crossposts "
        "num_reports over_18 parent_whitelist_status permalink pinned pwls quarantine "
        "removal_reason removed_by removed_by_category report_reasons retrieved_on saved score "
        "secure_media secure_media_embed selftext send_replies spoiler stickied subreddit "
        "subreddit_id subreddit_name_prefixed subreddit_subscribers subreddit_type suggested_sort "
        "thumbnail thumbnail_height thumbnail_width title top_awarded_type total_awards_received "
        "treatment_tags updated_on ups upvote_ratio url user_reports view_count visited "
        "whitelist_status wls".split()),
}
SUBMISSION_OPTIONAL: dict[Era, tuple[str, ...]] = {
    "2012": (),
    "2019": tuple(
        "all_awardings allow_live_comments author_premium can_mod_post discussion_type hide_score "
        "is_created_from_ads_ui name removal_reason removed_by_category retrieved_on "
        "subreddit_name_prefixed top_awarded_type total_awards_received treatment_tags "
        "upvote_ratio".split()),
    "2023": ("link_flair_template_id", "post_hint", "url_overridden_by_dest"),
}
COMMENT_KEYS: dict[Era, tuple[str, ...]] = {
    "2012": tuple(
        "edited distinguished author_flair_text controversiality created_utc retrieved_on ups body "
        "link_id id author_flair_css_class parent_id score author gilded subreddit "
        "subreddit_id".split()),
    "2019": tuple(
        "author author_created_utc author_flair_background_color author_flair_css_class "
        "author_flair_richtext author_flair_template_id author_flair_text author_flair_text_color "
        "author_flair_type author_fullname author_patreon_flair body can_gild can_mod_post "
        "collapsed collapsed_reason controversiality created_utc distinguished edited gilded "
        "gildings id is_submitter link_id no_follow parent_id permalink quarantined "
        "removal_reason retrieved_on score send_replies stickied subreddit subreddit_id "
        "subreddit_name_prefixed subreddit_type".split()),
    "2023": tuple(
        "_meta all_awardings approved_at_utc approved_by archived associated_award author "
        "author_flair_background_color author_flair_css_class author_flair_template_id "
        "author_flair_text author_flair_text_color author_is_blocked awarders banned_at_utc "
        "banned_by body can_gild can_mod_post collapsed collapsed_because_crowd_control "
        "collapsed_reason collapsed_reason_code comment_type controversiality created created_utc "
        "distinguished downs edited gilded gildings id is_submitter likes link_id locked mod_note "
        "mod_reason_by mod_reason_title mod_reports name no_follow num_reports parent_id "
        "permalink removal_reason replies report_reasons retrieved_on saved score score_hidden "
        "send_replies stickied subreddit subreddit_id subreddit_name_prefixed subreddit_type "
        "top_awarded_type total_awards_received treatment_tags unrepliable_reason updated_on ups "
        "user_reports".split()),
}
COMMENT_OPTIONAL: dict[Era, tuple[str, ...]] = {
    "2012": ("archived", "name", "score_hidden", "downs"),
    "2019": tuple(
        "all_awardings associated_award author_premium awarders collapsed_because_crowd_control "
        "locked top_awarded_type total_awards_received treatment_tags".split()),
    "2023": ("author_flair_richtext", "author_flair_type", "author_fullname",
             "author_patreon_flair", "author_premium"),
}
_LIST_KEYS = frozenset(
    "all_awardings author_flair_richtext awarders link_flair_richtext mod_reports report_reasons "
    "treatment_tags user_reports".split())
_DICT_KEYS = frozenset("gildings media_embed secure_media_embed".split())
_FALSE_KEYS = frozenset(
    "allow_live_comments archived author_is_blocked author_patreon_flair author_premium can_mod_post "
    "clicked collapsed contest_mode edited hidden hide_score is_created_from_ads_ui is_meta "
    "is_original_content is_reddit_media_domain is_submitter is_video locked media_only pinned "
    "quarantine quarantined saved score_hidden spoiler stickied visited".split())
_TRUE_KEYS = frozenset("can_gild is_crosspostable is_robot_indexable no_follow send_replies".split())
_ZERO_KEYS = frozenset(
    "controversiality downs gilded num_crossposts num_reports total_awards_received".split())
_FIXED_VALUES: dict[str, Any] = {
    "author_flair_type": "text", "link_flair_type": "text", "link_flair_text_color": "dark",
    "subreddit_type": "public", "parent_whitelist_status": "all_ads", "whitelist_status": "all_ads",
    "pwls": 6, "wls": 6, "replies": "", "link_flair_template_id": "", "post_hint": "self",
}


def json_default(key: str) -> Any:
    if key in _LIST_KEYS:
        return []
    if key in _DICT_KEYS:
        return {}
    if key in _FALSE_KEYS:
        return False
    if key in _TRUE_KEYS:
        return True
    if key in _ZERO_KEYS:
        return 0
    return _FIXED_VALUES.get(key)



def pick_era(rng: random.Random, optional: dict[Era, tuple[str, ...]]) -> tuple[Era, frozenset[str]]:
    era = rng.choices(list(ERA_WEIGHTS), weights=list(ERA_WEIGHTS.values()))[0]
    keep = frozenset(k for k in optional[era] if rng.random() < OPTIONAL_KEY_RATE)
    return era, keep
