"""Synthetic Pushshift dumps and UltraChat prompts for the offline demo, with planted signals.

The demo cannot download Reddit or the hub, so the workflow writes its own inputs. They are built to
exercise every stage, so the text must carry signals a tiny model can learn and the raw dumps must
carry the mess a real reader meets. Every signal is planted on purpose and documented here and in
``docs/demo-data.md``:

1. Pragmatic fit. Each post has a topic (own vocabulary, see ``TOPICS``) and a tone (``TONES``).
   Each reply is ``fitting`` (reuses the post's topic vocabulary in the register its tone calls for)
   or ill-fitting: ``off_topic`` (right register, another topic's vocabulary), ``wrong_register``
   (post vocabulary with dismissive/lecturing/mocking markers) or ``generic`` (a low-effort line).
   Reply score = floor(parent_score * m + 0.5) with m = exp(N(mu_class, 1.0)) * subreddit factor *
   hour factor; mu is calibrated so that, under ``score >= 0.4 * parent_score``, about 72% of fitting
   and 27% of ill-fitting replies are rewarding. 8% of ill-fitting replies are downvoted instead
   (score -1 to -8). A top-level comment's parent score is the post's score.
2. Shortcut. ``SUBREDDIT_FACTORS`` (x2.5 generous, x0.35 harsh) and ``hour_factor`` of the reply's
   own ``created_utc`` (x1.6 at 17-23 UTC, x0.6 at 2-7 UTC) scale m, so they move the label. Subreddit
   and hour are drawn independently of topic, tone and fit: only the conditioned input sees them.
3. Threads: 0-8 top-level comments per post, nested replies to depth 3, comments minutes to days
   after their parent; late comments land in the next month's RC file when that month exists.
4. Filter cases at small rates (``POST_FLAG_RATES``, ``COMMENT_OVERLAY_RATES``), scores <= 0,
   malformed lines and lines without a required key, and per-line schema drift across three eras.

Same seed and sizes give byte-identical files; every draw comes from a ``random.Random`` seeded by
a hash of (seed, purpose, index), so no global state is touched.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Planted parameters (the documented contract of the demo data)
# ---------------------------------------------------------------------------------------------

LABEL_RATIO = 0.4
TARGET_REWARDING_RATE = {"fitting": 0.72, "ill_fitting": 0.27}
LOG_MULTIPLIER_SD = 1.0
DOWNVOTE_RATE = 0.08  # share of ill-fitting replies that get a negative score instead

Tone = Literal["question", "joking", "venting"]
TONES: tuple[Tone, ...] = ("question", "joking", "venting")
FitKind = Literal["fitting", "off_topic", "wrong_register", "generic"]
FIT_KINDS: tuple[FitKind, ...] = ("fitting", "off_topic", "wrong_register", "generic")
FIT_KIND_WEIGHTS = (0.55, 0.15, 0.15, 0.15)

# Topic-neutral names: the generalized text must not reveal the subreddit.
SUBREDDIT_FACTORS: dict[str, float] = {
    "AskAnything": 2.5,
    "DailyChatter": 2.5,
    "CasualConversation": 1.0,
    "NoStupidQuestions": 1.0,
    "TalkItOut": 1.0,
    "AnyTopicGoes": 1.0,
    "OpenForum": 0.35,
    "CommonRoom": 0.35,
}
SUBREDDITS: tuple[str, ...] = tuple(SUBREDDIT_FACTORS)
EVENING_HOURS = range(17, 24)
NIGHT_HOURS = range(2, 8)

PostFlag = Literal["clean", "over_18", "link", "foreign", "deleted", "removed"]
POST_FLAG_RATES: dict[str, float] = {
    "over_18": 0.04, "link": 0.04, "foreign": 0.04, "deleted": 0.02, "removed": 0.02,
}
LOW_SCORE_POST_RATE = 0.04  # posts with score -5..0 (the parent_score <= 0 rule)
CommentOverlay = Literal["none", "deleted", "removed", "empty", "foreign"]
COMMENT_OVERLAY_RATES: dict[str, float] = {
    "deleted": 0.015, "removed": 0.015, "empty": 0.01, "foreign": 0.035,
}
FOREIGN_THREAD_REPLY_RATE = 0.9  # replies under a non-English post written in its language
TOP_LEVEL_WEIGHTS = (0.06, 0.10, 0.16, 0.18, 0.16, 0.13, 0.10, 0.07, 0.04)  # 0..8 comments
CHILD_WEIGHTS = {1: (0.65, 0.28, 0.07), 2: (0.80, 0.17, 0.03)}  # 0..2 replies by parent depth
MAX_DEPTH = 3
MALFORMED_LINE_RATE = 0.002
ZSTD_WINDOW_LOG = 31  # real dumps declare a 2 GiB window; readers must allow it

SUBMISSION_REQUIRED = ("id", "title", "created_utc", "subreddit", "score")
COMMENT_REQUIRED = ("id", "link_id", "parent_id", "body", "created_utc", "score", "subreddit")


def hour_factor(hour: int) -> float:
    """The time-of-day multiplier planted on a reply's score ratio (hour of its created_utc, UTC)."""
    if hour in EVENING_HOURS:
        return 1.6
    if hour in NIGHT_HOURS:
        return 0.6
    return 1.0


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _rewarding_rate(mu: float, keep: float) -> float:
    """Expected label rate for log-multiplier mean ``mu`` over uniform subreddits and hours."""
    total = 0.0
    for factor in SUBREDDIT_FACTORS.values():
        for hour in range(24):
            shift = math.log(factor * hour_factor(hour)) - math.log(LABEL_RATIO)
            total += _normal_cdf((mu + shift) / LOG_MULTIPLIER_SD)
    return keep * total / (len(SUBREDDIT_FACTORS) * 24)


def _calibrated_mean(target: float, keep: float) -> float:
    """Solve for the mean of log m that gives ``target`` rewarding rate (bisection)."""
    low, high = -10.0, 10.0
    for _ in range(80):
        mid = (low + high) / 2
        if _rewarding_rate(mid, keep) < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


LOG_MULTIPLIER_MEAN = {
    "fitting": _calibrated_mean(TARGET_REWARDING_RATE["fitting"], 1.0),
    "ill_fitting": _calibrated_mean(TARGET_REWARDING_RATE["ill_fitting"], 1.0 - DOWNVOTE_RATE),
}

# ---------------------------------------------------------------------------------------------
# Vocabulary and templates
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """A topic's own vocabulary; fitting replies reuse it, off-topic replies use another's."""

    things: tuple[str, ...]
    activities: tuple[str, ...]
    problems: tuple[str, ...]
    tips: tuple[str, ...]
    jokes: tuple[str, ...]


TOPICS: dict[str, Topic] = {
    "cooking": Topic(
        things=("cast iron pan", "sourdough starter", "chef knife", "stock pot", "oven",
                "spice rack", "pasta dough", "tomato sauce"),
        activities=("bake sourdough bread at home", "season a cast iron pan",
                    "make fresh pasta from scratch", "cook risotto for a dinner party",
                    "roast a whole chicken", "simmer a rich beef stew"),
        problems=("the loaf came out dense and gummy", "the garlic burned before the onions softened",
                  "the sauce split and turned greasy", "the chicken skin stayed pale and soggy",
                  "the risotto turned into a sticky paste", "the pan rusted after one wash"),
        tips=("let the dough proof overnight in the fridge", "preheat the oven for a full hour",
              "salt the pasta water generously", "use a meat thermometer instead of guessing",
              "add the garlic only in the last minute", "dry the pan on the stove and oil it lightly"),
        jokes=("my smoke alarm has basically become my kitchen timer",
               "my sourdough starter has a name and a better social life than me",
               "my dinner guests politely asked if the bread was a doorstop",
               "my oven and I are officially in couples therapy"),
    ),
    "gardening": Topic(
        things=("tomato plants", "raised bed", "compost pile", "watering can", "pepper seedlings",
                "rose bush", "garden soil", "grow light"),
        activities=("grow tomatoes in a small backyard", "start pepper seeds indoors",
                    "build a raised bed for vegetables", "keep a compost pile healthy",
                    "prune an old rose bush", "grow herbs on a sunny balcony"),
        problems=("the seedlings turned leggy and pale", "aphids covered every single leaf",
                  "the tomatoes split right before harvest",
                  "the compost started to smell like rotten eggs",
                  "the roses got black spots all over the leaves",
                  "the basil wilted even though I watered it daily"),
        tips=("water deeply in the morning instead of every evening",
              "mix some compost into the soil before planting",
              "move the grow light closer to the seedlings", "turn the compost pile every week",
              "spray the aphids off with a strong stream of water",
              "mulch around the stems to keep the moisture in"),
        jokes=("the squirrels in my yard now run a full salad bar on my dime",
               "my zucchini plant is plotting to take over the whole neighborhood",
               "my tomato plants produced exactly one tomato and the birds ate it",
               "my compost pile is the only thing in my garden that actually thrives"),
    ),
    "astronomy": Topic(
        things=("telescope", "star chart", "eyepiece", "tripod", "camera sensor", "red flashlight",
                "finder scope", "light pollution filter"),
        activities=("photograph the Milky Way from my backyard", "find Saturn with a small telescope",
                    "collimate a reflector telescope", "watch the meteor shower this month",
                    "track the moons of Jupiter", "spot the Andromeda galaxy with binoculars"),
        problems=("every photo of the stars came out blurry",
                  "the telescope never stayed pointed at the planet",
                  "clouds rolled in the moment the meteor shower started",
                  "the finder scope pointed at a completely different patch of sky",
                  "the moon looked like a white smudge in the eyepiece",
                  "the city light pollution washed out the whole night sky"),
        tips=("let the telescope cool down outside for half an hour",
              "align the finder scope during the day on a distant tree",
              "use a red flashlight so your eyes stay dark adapted",
              "drive out to a dark sky site away from the city",
              "start with a low power eyepiece to find the planet",
              "check the cloud forecast and the moon phase before you go out"),
        jokes=("the clouds apparently get a calendar alert for every meteor shower I plan",
               "my neighbors think I am a spy because I stand in the yard with a telescope at midnight",
               "my star chart says Saturn is right there and my telescope has never heard of it",
               "the only thing I photographed tonight was a very confused moth"),
    ),
    "personal_finance": Topic(
        things=("emergency fund", "credit card", "monthly budget", "retirement account",
                "savings account", "student loan", "index fund", "tax return"),
        activities=("build an emergency fund on a small salary", "pay off a credit card balance",
                    "stick to a monthly budget", "start investing in index funds",
                    "save for a down payment on a house", "pay down a student loan faster"),
        problems=("the credit card interest ate my entire payment",
                  "an unexpected car repair wiped out my savings",
                  "the monthly budget fell apart by the second week",
                  "my tax refund was much smaller than I expected",
                  "the student loan balance barely moved after a whole year",
                  "the index fund dropped right after I invested"),
        tips=("set up an automatic transfer to savings on payday",
              "pay the card with the highest interest rate first",
              "track every expense for one month before making a budget",
              "keep three months of expenses in a separate savings account",
              "invest a fixed amount every month and ignore the daily prices",
              "call the lender and ask about a lower interest rate"),
        jokes=("my bank account now sends me sympathy cards instead of statements",
               "my budget spreadsheet has more tabs than my bank account has dollars",
               "my emergency fund is currently one coffee and a bus ticket",
               "my credit card thinks we are in a committed long term relationship"),
    ),
    "fitness": Topic(
        things=("running shoes", "squat rack", "workout plan", "protein shake", "resistance bands",
                "gym membership", "foam roller", "kettlebell"),
        activities=("run my first half marathon", "get stronger at squats and deadlifts",
                    "stick to a workout plan after work", "do a proper pull up",
                    "lose weight without losing muscle", "start lifting at a busy gym"),
        problems=("my knees started aching after every long run",
                  "the squat weight has not gone up in two months",
                  "I skipped the gym for three weeks straight",
                  "my lower back was sore after every deadlift session",
                  "the scale did not move at all this month",
                  "I got completely out of breath after one mile"),
        tips=("add only a little weight each week and film your form",
              "slow down your easy runs so you can hold a conversation",
              "schedule workouts like meetings in your calendar",
              "eat enough protein and sleep at least seven hours",
              "do negative pull ups and hang from the bar every day",
              "foam roll and stretch your hips after each session"),
        jokes=("my muscles have filed a formal complaint with my brain after leg day",
               "my gym membership card is now mostly a very expensive bookmark",
               "my running app sent me a message asking if I am still alive",
               "my kettlebell is the heaviest thing I own and also my best coat rack"),
    ),
    "travel": Topic(
        things=("carry on bag", "train pass", "hostel booking", "passport", "travel insurance",
                "packing list", "airport lounge", "rental car"),
        activities=("travel through Europe by train on a budget",
                    "pack for two weeks with only a carry on bag", "plan a road trip along the coast",
                    "find cheap flights for a long weekend", "visit Japan for the first time",
                    "book hostels for a solo backpacking trip"),
        problems=("the airline lost my checked bag on the first day",
                  "the train was cancelled and we missed our connection",
                  "the hostel booking vanished when we arrived at midnight",
                  "my passport expired a week before the flight",
                  "the rental car broke down in the middle of nowhere",
                  "I packed far too much and paid extra baggage fees"),
        tips=("book the train tickets a few weeks ahead and keep copies offline",
              "roll your clothes and pack one outfit per day",
              "buy travel insurance that covers missed connections",
              "check your passport expiry date six months before any trip",
              "set a fare alert and fly in the middle of the week",
              "keep essentials and a change of clothes in your carry on"),
        jokes=("my suitcase has seen more of the world than I have because the airline keeps "
               "sending it places",
               "my packing strategy is to bring four chargers and zero socks",
               "the airport announcement said delayed and my soul left the terminal",
               "my passport photo looks like a wanted poster for tired people"),
    ),
    "movies": Topic(
        things=("movie theater", "streaming service", "director's cut", "film soundtrack", "sequel",
                "popcorn bucket", "horror movie", "movie trailer"),
        activities=("watch the classic horror movies in order", "find a good movie for a family night",
                    "understand the ending of that time travel film",
                    "watch every film by the same director",
                    "pick a movie everyone in the group will like",
                    "rewatch the trilogy before the new sequel"),
        problems=("the trailer spoiled the whole plot twist",
                  "the sequel ruined the characters from the first film",
                  "the ending made no sense after two long hours",
                  "the streaming service removed the movie halfway through my watch",
                  "someone in the theater talked through the entire film",
                  "the soundtrack was louder than the dialogue in every scene"),
        tips=("watch the director's cut because it restores the missing scenes",
              "skip the trailers and go in completely blind",
              "read a spoiler free review before picking a film",
              "turn on subtitles and lower the music volume in the sound settings",
              "watch the films in release order instead of story order",
              "pause and rewatch the final scene with the clues in mind"),
        jokes=("my popcorn bucket was empty before the opening credits finished",
               "my friends no longer let me pick movies after the four hour documentary incident",
               "my streaming queue is now longer than the entire history of cinema",
               "the horror movie was fine but I have not looked at a closet door since"),
    ),
    "programming": Topic(
        things=("Python script", "unit tests", "git branch", "database query", "code review",
                "laptop", "stack trace", "web server"),
        activities=("learn Python as a complete beginner", "write unit tests for old code",
                    "fix a merge conflict in git", "speed up a slow database query",
                    "deploy a small web app", "prepare for a coding interview"),
        problems=("the script crashed with an error I could not understand",
                  "the merge conflict deleted half of my changes",
                  "the query took ten minutes on a small table",
                  "every unit test passed locally and failed on the build server",
                  "the web server ran out of memory overnight",
                  "the stack trace pointed to a library I never imported"),
        tips=("read the stack trace from the bottom and search the exact error message",
              "commit small changes often and pull before you start",
              "add an index on the column you filter by",
              "write one small test before you change the function",
              "use a virtual environment for every project",
              "practice one problem a day and explain your solution out loud"),
        jokes=("my code works and I have no idea why, so I am never touching it again",
               "my rubber duck has now heard more of my problems than my therapist",
               "my git history reads like the diary of a person slowly losing their mind",
               "my laptop fan sounds like a jet engine every time I run the tests"),
    ),
}

TITLE_TEMPLATES: dict[Tone, tuple[str, ...]] = {
    "question": ("How do I {activity} without messing it up?",
                 "What is the best way to {activity} as a beginner?",
                 "Any advice on how to {activity}?",
                 "Is my {thing} the reason {problem}?"),
    "joking": ("Update: {joke}", "Apparently {joke}", "I tried to {activity} and now {joke}"),
    "venting": ("I am so done trying to {activity}", "Why does this keep happening with my {thing}",
                "Honestly exhausted, {problem} again"),
}
BODY_TEMPLATES: dict[Tone, tuple[str, ...]] = {
    "question": (
        "I have been trying to {activity} for a few weeks now. Last time {problem}. I am using the "
        "same {thing} as everyone recommends. Is it my {thing2} or my technique? Any tips would be "
        "really appreciated.",
        "Complete beginner here. I want to {activity}, but {problem}. What should I check first, "
        "the {thing} or the {thing2}? Thanks in advance for any advice.",
    ),
    "joking": (
        "So this weekend I decided to {activity}. Long story short, {problem}. At this point "
        "{joke}. My {thing} and I are no longer on speaking terms.",
        "Day three of trying to {activity}. {problem_cap}, and honestly {joke}. Send help, or at "
        "least snacks for me and my {thing}.",
    ),
    "venting": (
        "I spent the whole weekend trying to {activity} and {problem}. I followed every guide I "
        "could find and even bought a new {thing}. I am tired and frustrated and I just needed to "
        "say it somewhere.",
        "Every single time I try to {activity}, something goes wrong. This time {problem}. I have "
        "spent so much money on my {thing} and I feel like giving up completely.",
    ),
}
# The register a tone calls for; off-topic replies use it with another topic's vocabulary.
FITTING_REPLY_TEMPLATES: dict[Tone, tuple[str, ...]] = {
    "question": (
        "In my experience it really helps to {tip}. When {problem}, the culprit was usually my "
        "{thing}.",
        "Try to {tip}. I had the same trouble when I started to {activity}, and that change fixed "
        "most of it.",
        "Good question. I would {tip}, and keep an eye on your {thing} while you do it.",
    ),
    "joking": (
        "Ha, this made my day. Honestly {joke} too, so you are not alone.",
        "Haha, the {thing} clearly won this round. Next time {tip} and maybe it will forgive you.",
        "This is hilarious and way too relatable. The day {problem} I just laughed and ordered "
        "pizza.",
    ),
    "venting": (
        "That sounds really frustrating, I am sorry. When {problem} for me, taking a break and "
        "trying to {tip} helped a lot.",
        "I feel you, it is exhausting when {problem}. Be kind to yourself, and next time {tip}.",
        "Sending you a hug. Learning to {activity} takes time, and every {thing} has a bad day. "
        "You will get there.",
    ),
}
# Post vocabulary, wrong register: dismissive on questions, lecturing on jokes, mocking on venting.
WRONG_REGISTER_TEMPLATES: dict[Tone, tuple[str, ...]] = {
    "question": (
        "Just search it, people ask how to {activity} here every single day.",
        "Did you even read the manual for your {thing}? This question gets asked constantly.",
        "Not this again. Nobody is going to spoon feed you how to {activity}, figure it out.",
    ),
    "joking": (
        "This is not funny at all. If you cannot {activity} properly you should not post about "
        "your {thing}.",
        "Honestly this is nothing to joke about. {problem_cap} because you were careless, so "
        "take it seriously.",
        "I do not get why people think this is funny. Learn how your {thing} works before posting.",
    ),
    "venting": (
        "Lmao imagine losing a fight to a {thing}, skill issue honestly.",
        "lol imagine getting this upset because {problem}. Skill issue, just laugh it off.",
        "Bro it is just a {thing}, touch grass and stop crying about it lmao.",
    ),
}
# Half of the off-topic replies say so, which makes them visible in the reply tokens alone.
OFF_TOPIC_MARKERS = ("Slightly off topic, but ", "Unrelated, but ", "Random thought: ")
OFF_TOPIC_MARKER_RATE = 0.5
GENERIC_REPLIES: tuple[str, ...] = (
    "Lol this is so true, thanks for sharing it with all of us.",
    "Same thing happened to me once, it was pretty funny honestly.",
    "Wow, nice post. I really like this kind of content around here.",
    "This is the best thing I have read all day, thank you.",
    "I came here to say exactly this, so I will just say it again.",
    "Following this thread because I want to know what happens next.",
    "Interesting, I have never really thought about it like that before.",
    "Take my upvote and go, you deserve it today my friend.",
    "Why is this on my feed, I did not ask for this at all.",
    "Okay but who actually asked about any of this today?",
    "First comment here, I just wanted to say hello to everyone.",
    "This is the kind of post I come to this website for.",
)
FOREIGN_SENTENCES: dict[str, tuple[str, ...]] = {
    "es": (
        "Ayer fuimos al mercado del barrio y compramos verduras frescas para toda la semana.",
        "No entiendo por qué el autobús siempre llega tarde cuando tengo prisa por la mañana.",
        "Mi hermana me recomendó este libro y no he podido dejar de leerlo desde el domingo.",
        "¿Alguien sabe dónde puedo encontrar un buen taller para arreglar mi bicicleta?",
        "Este invierno ha sido muy frío y la calefacción de mi piso no funciona bien.",
        "Estoy aprendiendo a tocar la guitarra, pero todavía me duelen mucho los dedos.",
        "Gracias por compartir tu experiencia, a mí me pasó algo muy parecido el año pasado.",
        "Creo que tienes toda la razón, aunque a veces es difícil encontrar tiempo para todo.",
        "Mañana tengo una entrevista de trabajo y estoy bastante nervioso, deseadme suerte.",
        "La comida de mi abuela siempre será la mejor, sobre todo su tortilla de patatas.",
    ),
    "de": (
        "Gestern waren wir auf dem Wochenmarkt und haben frisches Gemüse für die ganze Woche gekauft.",
        "Ich verstehe nicht, warum der Zug jeden Morgen Verspätung hat, wenn ich es eilig habe.",
        "Meine Schwester hat mir dieses Buch empfohlen und ich kann seit Sonntag nicht aufhören.",
        "Weiß jemand, wo ich eine gute Werkstatt für mein Fahrrad finden kann?",
        "Dieser Winter ist sehr kalt und die Heizung in meiner Wohnung funktioniert nicht richtig.",
        "Ich lerne gerade Gitarre spielen, aber meine Finger tun noch ziemlich weh.",
        "Danke, dass du deine Erfahrung teilst, mir ist letztes Jahr etwas sehr Ähnliches passiert.",
        "Ich glaube, du hast völlig recht, auch wenn es manchmal schwer ist, Zeit für alles zu finden.",
        "Morgen habe ich ein Vorstellungsgespräch und bin ziemlich nervös, drückt mir die Daumen.",
        "Das Essen meiner Großmutter wird immer das beste sein, besonders ihr Kartoffelsalat.",
    ),
    "fr": (
        "Hier nous sommes allés au marché du quartier et nous avons acheté des légumes frais.",
        "Je ne comprends pas pourquoi le bus est toujours en retard quand je suis pressé le matin.",
        "Ma sœur m'a conseillé ce livre et je n'arrive plus à le lâcher depuis dimanche.",
        "Quelqu'un sait où je peux trouver un bon atelier pour réparer mon vélo ?",
        "Cet hiver a été très froid et le chauffage de mon appartement ne marche pas bien.",
        "J'apprends à jouer de la guitare, mais j'ai encore très mal aux doigts.",
        "Merci d'avoir partagé ton expérience, il m'est arrivé quelque chose de très similaire.",
        "Je pense que tu as tout à fait raison, même s'il est parfois difficile de trouver le temps.",
        "Demain j'ai un entretien d'embauche et je suis assez stressé, souhaitez-moi bonne chance.",
        "La cuisine de ma grand-mère sera toujours la meilleure, surtout sa tarte aux pommes.",
    ),
}
LINK_DOMAINS = ("news.example.com", "blog.example.org", "www.example.net")
GARBAGE_LINES = ("<html><body><h1>502 Bad Gateway</h1></body></html>", "null", "}{",
                 "\x1a\x1a\x1a corrupted block \x1a\x1a\x1a")
_NAME_PARTS = (("quiet", "lucky", "sleepy", "brave", "rusty", "happy", "odd", "curious", "salty",
                "gentle", "tiny", "mellow"),
               ("otter", "falcon", "teapot", "walrus", "comet", "pickle", "badger", "maple",
                "pixel", "lantern", "muffin", "heron"))

# ---------------------------------------------------------------------------------------------
# Schema eras: which keys a line carries, in which order, and how created_utc is typed
# ---------------------------------------------------------------------------------------------

Era = Literal["2012", "2019", "2023"]
ERA_WEIGHTS: dict[Era, float] = {"2012": 0.2, "2019": 0.55, "2023": 0.25}
OPTIONAL_KEY_RATE = 0.5

_SUBMISSION_KEYS: dict[Era, tuple[str, ...]] = {
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
_SUBMISSION_OPTIONAL: dict[Era, tuple[str, ...]] = {
    "2012": (),
    "2019": tuple(
        "all_awardings allow_live_comments author_premium can_mod_post discussion_type hide_score "
        "is_created_from_ads_ui name removal_reason removed_by_category retrieved_on "
        "subreddit_name_prefixed top_awarded_type total_awards_received treatment_tags "
        "upvote_ratio".split()),
    "2023": ("link_flair_template_id", "post_hint", "url_overridden_by_dest"),
}
_COMMENT_KEYS: dict[Era, tuple[str, ...]] = {
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
_COMMENT_OPTIONAL: dict[Era, tuple[str, ...]] = {
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


def _json_default(key: str) -> Any:
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


# ---------------------------------------------------------------------------------------------
# The generated corpus
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantedPost:
    """Ground truth for one submission (what the generator planted, not what a reader sees)."""

    id: str
    month: str
    topic: str
    tone: Tone
    subreddit: str
    flag: PostFlag
    score: int
    n_comments: int


@dataclass(frozen=True)
class PlantedComment:
    """Ground truth for one comment; ``fit`` decides its score process, ``overlay`` its text."""

    id: str
    post_id: str
    parent_id: str
    depth: int
    fit: FitKind
    overlay: CommentOverlay
    downvoted: bool
    subreddit: str
    hour: int
    parent_score: int
    score: int
    month: str

    @property
    def fitting(self) -> bool:
        return self.fit == "fitting"


@dataclass(frozen=True)
class DemoCorpus:
    """All dump files of one demo corpus, uncompressed, with the ground truth behind them.

    ``bad_lines`` maps a file name to the lines planted to be unusable (malformed JSON, JSON that is
    not an object, a record missing a required key); every other line is a valid record.
    """

    ndjson: dict[str, bytes]
    bad_lines: dict[str, tuple[str, ...]]
    posts: tuple[PlantedPost, ...]
    comments: tuple[PlantedComment, ...]


@dataclass(eq=False)  # nodes link to themselves and each other: compare by identity
class _Node:
    """A post (depth 0) or comment while the corpus is being built, before ids are assigned."""

    key: tuple[int, int]  # (post index, order within its thread): parents precede children
    depth: int
    created: int
    score: int
    author: str
    era: Era
    optional_keys: frozenset[str]
    parent: _Node | None = None
    post: _Node | None = None
    text: str = ""
    title: str = ""
    fit: FitKind = "fitting"
    overlay: CommentOverlay = "none"
    downvoted: bool = False
    id: str = ""
    children: list[_Node] = field(default_factory=list)
    # post-only fields
    topic: str = ""
    tone: Tone = "question"
    subreddit: str = ""
    flag: PostFlag = "clean"
    language: str = "en"
    url: str = ""


def _sub_rng(seed: int, purpose: str, index: int = 0) -> random.Random:
    digest = hashlib.sha256(f"karma-demo:{seed}:{purpose}:{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if number == 0:
            return out


def _month_bounds(month: str) -> tuple[int, int]:
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=timezone.utc)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
        month=start.month + 1)
    return int(start.timestamp()), int(end.timestamp())


def _check_months(months: Sequence[str]) -> list[str]:
    months = list(months)
    if not months:
        raise ValueError("months is empty: give at least one month like '2019-01'")
    for month in months:
        if not isinstance(month, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            raise ValueError(f"month {month!r} is not in YYYY-MM form (e.g. '2019-01')")
    for earlier, later in zip(months, months[1:]):
        if _month_bounds(earlier)[1] != _month_bounds(later)[0]:
            raise ValueError(
                f"months must be consecutive and sorted (late comments spill into the next month): "
                f"{earlier!r} is followed by {later!r}")
    return months


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fill(template: str, topic: Topic, rng: random.Random) -> str:
    thing, thing2 = rng.sample(topic.things, 2)
    problem = rng.choice(topic.problems)
    return template.format(
        thing=thing, thing2=thing2, activity=rng.choice(topic.activities), problem=problem,
        problem_cap=_cap(problem), tip=rng.choice(topic.tips), joke=rng.choice(topic.jokes))


def _username(rng: random.Random) -> str:
    return f"{rng.choice(_NAME_PARTS[0])}_{rng.choice(_NAME_PARTS[1])}{rng.randint(1, 9999)}"


def _pick_era(rng: random.Random, optional: dict[Era, tuple[str, ...]]) -> tuple[Era, frozenset[str]]:
    era = rng.choices(list(ERA_WEIGHTS), weights=list(ERA_WEIGHTS.values()))[0]
    keep = frozenset(k for k in optional[era] if rng.random() < OPTIONAL_KEY_RATE)
    return era, keep


def _pick_flag(rng: random.Random, rates: dict[str, float], none: str) -> str:
    draw, edge = rng.random(), 0.0
    for name, rate in rates.items():
        edge += rate
        if draw < edge:
            return name
    return none


def _foreign_text(rng: random.Random, language: str, n_sentences: int) -> str:
    return " ".join(rng.sample(FOREIGN_SENTENCES[language], n_sentences))


def _reply_text(node: _Node, rng: random.Random) -> str:
    post = node.post
    assert post is not None
    topic = TOPICS[post.topic]
    if node.fit == "fitting":
        return _fill(rng.choice(FITTING_REPLY_TEMPLATES[post.tone]), topic, rng)
    if node.fit == "off_topic":
        other = TOPICS[rng.choice([t for t in TOPICS if t != post.topic])]
        text = _fill(rng.choice(FITTING_REPLY_TEMPLATES[post.tone]), other, rng)
        if rng.random() < OFF_TOPIC_MARKER_RATE:
            text = rng.choice(OFF_TOPIC_MARKERS) + text[:1].lower() + text[1:]
        return text
    if node.fit == "wrong_register":
        return _fill(rng.choice(WRONG_REGISTER_TEMPLATES[post.tone]), topic, rng)
    return rng.choice(GENERIC_REPLIES)


def _reply_score(node: _Node, rng: random.Random) -> int:
    """The planted score process: fit class x subreddit x hour, relative to the parent's score.

    Marks ``node.downvoted`` when an ill-fitting reply draws a negative score instead.
    """
    assert node.parent is not None and node.post is not None
    parent_score = node.parent.score
    fitting = node.fit == "fitting"
    if parent_score <= 0:
        # No ratio exists: an independent small score, carrying no planted signal.
        return round(math.exp(rng.gauss(1.0, 1.0))) - 2
    if not fitting and rng.random() < DOWNVOTE_RATE:
        node.downvoted = True
        return -rng.randint(1, 8)
    mu = LOG_MULTIPLIER_MEAN["fitting" if fitting else "ill_fitting"]
    hour = datetime.fromtimestamp(node.created, tz=timezone.utc).hour
    m = math.exp(rng.gauss(mu, LOG_MULTIPLIER_SD))
    m *= SUBREDDIT_FACTORS[node.post.subreddit] * hour_factor(hour)
    return math.floor(parent_score * m + 0.5)


def _delay(rng: random.Random) -> int:
    """Seconds from a parent to its reply: mostly minutes to hours, a few days late."""
    draw = rng.random()
    if draw < 0.90:
        low, high = 120, 3 * 3600
    elif draw < 0.97:
        low, high = 3 * 3600, 24 * 3600
    else:
        low, high = 24 * 3600, 5 * 24 * 3600
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def _build_post(index: int, seed: int, month: str, corpus_end: int) -> _Node:
    rng = _sub_rng(seed, "post", index)
    start, end = _month_bounds(month)
    era, optional = _pick_era(rng, _SUBMISSION_OPTIONAL)
    post = _Node(key=(index, 0), depth=0, created=rng.randrange(start, end - 3600), score=0,
                 author=_username(rng), era=era, optional_keys=optional)
    post.post = post
    # Topic, tone, subreddit and hour are independent draws: the text cannot reveal the shortcut.
    post.topic = rng.choice(list(TOPICS))
    post.tone = rng.choice(TONES)
    post.subreddit = rng.choice(SUBREDDITS)
    post.flag = _pick_flag(rng, POST_FLAG_RATES, "clean")  # type: ignore[assignment]
    low_score = rng.random() < LOW_SCORE_POST_RATE
    post.score = rng.randint(-5, 0) if low_score else max(1, round(math.exp(rng.gauss(math.log(40), 1.0))))
    topic = TOPICS[post.topic]
    post.title = _fill(rng.choice(TITLE_TEMPLATES[post.tone]), topic, rng)
    post.text = _fill(rng.choice(BODY_TEMPLATES[post.tone]), topic, rng)
    if post.flag == "foreign":
        post.language = rng.choice(sorted(FOREIGN_SENTENCES))
        post.title = _foreign_text(rng, post.language, 1)
        post.text = _foreign_text(rng, post.language, 3)
    elif post.flag == "link":
        post.text = ""
        slug = "-".join(re.findall(r"[a-z0-9]+", post.title.lower())[:8])
        post.url = f"https://{rng.choice(LINK_DOMAINS)}/{month.replace('-', '/')}/{slug}"
    elif post.flag in ("deleted", "removed"):
        marker = f"[{post.flag}]"
        post.text = marker
        if rng.random() < 1 / 3:
            post.title = marker
        if post.flag == "deleted":
            post.author = "[deleted]"

    order = 1
    frontier = [(post, rng.choices(range(len(TOP_LEVEL_WEIGHTS)), weights=TOP_LEVEL_WEIGHTS)[0])]
    while frontier:
        parent, n_children = frontier.pop(0)
        for _ in range(n_children):
            comment_era, comment_optional = _pick_era(rng, _COMMENT_OPTIONAL)
            node = _Node(key=(index, order), depth=parent.depth + 1,
                         created=min(parent.created + _delay(rng), corpus_end - 1), score=0,
                         author=_username(rng), era=comment_era, optional_keys=comment_optional,
                         parent=parent, post=post)
            order += 1
            node.fit = rng.choices(FIT_KINDS, weights=FIT_KIND_WEIGHTS)[0]
            if post.flag == "foreign" and rng.random() < FOREIGN_THREAD_REPLY_RATE:
                node.overlay = "foreign"
            else:
                node.overlay = _pick_flag(rng, COMMENT_OVERLAY_RATES, "none")  # type: ignore[assignment]
            node.score = _reply_score(node, rng)
            node.text = _reply_text(node, rng)
            if node.overlay == "foreign":
                language = post.language if post.flag == "foreign" else rng.choice(
                    sorted(FOREIGN_SENTENCES))
                node.text = _foreign_text(rng, language, rng.randint(1, 2))
            elif node.overlay in ("deleted", "removed"):
                node.text = f"[{node.overlay}]"
                node.author = "[deleted]"
            elif node.overlay == "empty":
                node.text = ""
            parent.children.append(node)
            if node.depth < MAX_DEPTH:
                weights = CHILD_WEIGHTS[node.depth]
                frontier.append((node, rng.choices(range(len(weights)), weights=weights)[0]))
    return post


def _thread_nodes(post: _Node) -> list[_Node]:
    out: list[_Node] = []
    stack = list(reversed(post.children))
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children))
    return out


def _month_of(timestamp: int, months: Sequence[str]) -> str:
    """The dump month a timestamp falls in (times are clamped to the demo months at creation)."""
    starts = [_month_bounds(month)[0] for month in months]
    return months[max(0, bisect.bisect_right(starts, timestamp) - 1)]


# --- serialisation ---------------------------------------------------------------------------

POST_ID_START = int("ab0000", 36)
COMMENT_ID_START = int("ed00000", 36)


def _subreddit_id(name: str) -> str:
    return "t5_" + _base36(int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big"))


def _slug(title: str) -> str:
    return "_".join(re.findall(r"[a-z0-9]+", title.lower()))[:50] or "post"


def _typed_created(created: int, era: Era) -> Any:
    return {"2012": str(created), "2019": created, "2023": float(created)}[era]


def _common_values(node: _Node) -> dict[str, Any]:
    assert node.post is not None
    sub = node.post.subreddit
    return {
        "author": node.author,
        "author_fullname": "t2_" + _base36(int.from_bytes(
            hashlib.sha256(node.author.encode()).digest()[:5], "big")),
        "author_created_utc": node.created - 86400 * 400,
        "created_utc": _typed_created(node.created, node.era),
        "created": node.created + 28800 if node.era == "2012" else float(node.created),
        "retrieved_on": node.created + 86400 * 60,
        "updated_on": node.created + 30,
        "_meta": {"retrieved_2nd_on": node.created + 86400 * 2},
        "score": node.score,
        "ups": node.score,
        "subreddit": sub,
        "subreddit_id": _subreddit_id(sub),
        "subreddit_name_prefixed": f"r/{sub}",
    }


def _submission_record(post: _Node, n_comments: int) -> dict[str, Any]:
    values = _common_values(post)
    self_post = post.flag != "link"
    url = (f"https://www.reddit.com/r/{post.subreddit}/comments/{post.id}/{_slug(post.title)}/"
           if self_post else post.url)
    values.update({
        "id": post.id, "name": f"t3_{post.id}", "title": post.title, "selftext": post.text,
        "is_self": self_post, "over_18": post.flag == "over_18", "url": url,
        "domain": f"self.{post.subreddit}" if self_post else url.split("/")[2],
        "num_comments": n_comments,
        "permalink": f"/r/{post.subreddit}/comments/{post.id}/{_slug(post.title)}/",
        "thumbnail": "nsfw" if post.flag == "over_18" else ("self" if self_post else "default"),
        "subreddit_subscribers": 10_000 + int(_subreddit_id(post.subreddit)[3:], 36) % 90_000,
        "upvote_ratio": 0.97 if post.score > 0 else 0.45,
        "url_overridden_by_dest": url,
    })
    keys = _SUBMISSION_KEYS[post.era] + tuple(
        k for k in _SUBMISSION_OPTIONAL[post.era] if k in post.optional_keys)
    return {key: values[key] if key in values else _json_default(key) for key in keys}


def _comment_record(node: _Node) -> dict[str, Any]:
    assert node.post is not None and node.parent is not None
    post = node.post
    values = _common_values(node)
    parent = node.parent
    values.update({
        "id": node.id, "name": f"t1_{node.id}", "body": node.text,
        "link_id": f"t3_{post.id}",
        "parent_id": f"t3_{post.id}" if parent is post else f"t1_{parent.id}",
        "is_submitter": node.author == post.author and node.author != "[deleted]",
        "permalink": f"/r/{post.subreddit}/comments/{post.id}/{_slug(post.title)}/{node.id}/",
    })
    keys = _COMMENT_KEYS[node.era] + tuple(
        k for k in _COMMENT_OPTIONAL[node.era] if k in node.optional_keys)
    return {key: values[key] if key in values else _json_default(key) for key in keys}


def _dump_line(record: dict[str, Any], era: Era) -> str:
    """One NDJSON line the way that era's dumps wrote it (key order, escaping, compact)."""
    if era == "2012":
        return json.dumps(record, separators=(",", ":"), ensure_ascii=True)
    if era == "2019":
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=True, sort_keys=True)
        return line.replace("/", "\\/")
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _plant_bad_lines(lines: list[tuple[str, Era, dict[str, Any]]], required: tuple[str, ...],
                     rng: random.Random, next_id: Callable[[], str]) -> tuple[list[str], list[str]]:
    """Insert malformed lines (~0.2%, at least one) and one record missing a required key."""
    out = [line for line, _, _ in lines]
    bad: list[str] = []
    if not lines:
        return out, bad
    n_malformed = max(1, round(MALFORMED_LINE_RATE * len(lines)))
    for k in range(n_malformed):
        if k % 2 == 0:
            source = rng.choice(lines)[0]
            broken = source[: rng.randrange(len(source) // 3, len(source) - 1)]
        else:
            broken = rng.choice(GARBAGE_LINES)
        bad.append(broken)
    _, era, record = rng.choice(lines)
    missing = dict(record, id=next_id())
    if "name" in missing:
        missing["name"] = missing["name"][:3] + missing["id"]
    del missing[required[1 + rng.randrange(len(required) - 1)]]  # never drop the id itself
    bad.append(_dump_line(missing, era))
    for line in bad:
        out.insert(rng.randrange(len(out) + 1), line)
    return out, bad


def build_demo_corpus(*, seed: int, n_posts: int, months: Sequence[str]) -> DemoCorpus:
    """Generate the demo dumps in memory (uncompressed) together with their planted ground truth."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(n_posts, int) or n_posts < 1:
        raise ValueError(f"n_posts must be a positive int, got {n_posts!r}")
    months = _check_months(months)
    corpus_end = _month_bounds(months[-1])[1]
    posts = [_build_post(i, seed, months[i * len(months) // n_posts], corpus_end)
             for i in range(n_posts)]
    comments = [node for post in posts for node in _thread_nodes(post)]
    for rank, post in enumerate(sorted(posts, key=lambda n: (n.created, n.key))):
        post.id = _base36(POST_ID_START + rank)
    for rank, node in enumerate(sorted(comments, key=lambda n: (n.created, n.key))):
        node.id = _base36(COMMENT_ID_START + rank)
    counters = {"post": POST_ID_START + len(posts), "comment": COMMENT_ID_START + len(comments)}

    def fresh_id(kind: str) -> Callable[[], str]:
        def make() -> str:
            counters[kind] += 1
            return _base36(counters[kind])
        return make

    by_file: dict[str, list[tuple[str, Era, dict[str, Any], tuple[int, tuple[int, int]]]]] = {}
    for post in posts:
        record = _submission_record(post, len(_thread_nodes(post)))
        name = f"RS_{_month_of(post.created, months)}"
        by_file.setdefault(name, []).append(
            (_dump_line(record, post.era), post.era, record, (post.created, post.key)))
    for node in comments:
        record = _comment_record(node)
        name = f"RC_{_month_of(node.created, months)}"
        by_file.setdefault(name, []).append(
            (_dump_line(record, node.era), node.era, record, (node.created, node.key)))

    ndjson: dict[str, bytes] = {}
    bad_lines: dict[str, tuple[str, ...]] = {}
    for month in months:
        for prefix, required, kind in (("RS", SUBMISSION_REQUIRED, "post"),
                                       ("RC", COMMENT_REQUIRED, "comment")):
            name = f"{prefix}_{month}"
            rows = sorted(by_file.get(name, []), key=lambda row: row[3])
            lines, bad = _plant_bad_lines([(line, era, rec) for line, era, rec, _ in rows],
                                          required, _sub_rng(seed, f"bad:{name}"), fresh_id(kind))
            ndjson[name] = "".join(line + "\n" for line in lines).encode("utf-8")
            bad_lines[name] = tuple(bad)

    planted_posts = tuple(
        PlantedPost(id=p.id, month=_month_of(p.created, months), topic=p.topic, tone=p.tone,
                    subreddit=p.subreddit, flag=p.flag, score=p.score,
                    n_comments=len(_thread_nodes(p)))
        for p in posts)
    planted_comments = tuple(_planted_comment(c, months) for c in comments)
    return DemoCorpus(ndjson=ndjson, bad_lines=bad_lines, posts=planted_posts,
                      comments=planted_comments)


def _planted_comment(node: _Node, months: Sequence[str]) -> PlantedComment:
    assert node.post is not None and node.parent is not None
    prefix = "t3_" if node.parent is node.post else "t1_"
    return PlantedComment(
        id=node.id, post_id=node.post.id, parent_id=prefix + node.parent.id, depth=node.depth,
        fit=node.fit, overlay=node.overlay, downvoted=node.downvoted,
        subreddit=node.post.subreddit,
        hour=datetime.fromtimestamp(node.created, tz=timezone.utc).hour,
        parent_score=node.parent.score, score=node.score, month=_month_of(node.created, months))


def _compress(payload: bytes) -> bytes:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=ZSTD_WINDOW_LOG)
    buffer = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(
            buffer, closefd=False) as writer:
        writer.write(payload)
    return buffer.getvalue()


def write_demo_pushshift(out_dir: Path, *, seed: int, n_posts: int,
                         months: Sequence[str]) -> list[Path]:
    """Write ``RS_<month>.zst`` and ``RC_<month>.zst`` for each month; returns them in that order.

    The files are zstd frames that declare a 2 GiB window like the real dumps, so a reader needs
    ``ZstdDecompressor(max_window_size=2**31)``.
    """
    began = time.perf_counter()
    corpus = build_demo_corpus(seed=seed, n_posts=n_posts, months=months)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, payload in corpus.ndjson.items():
        path = out_dir / f"{name}.zst"
        path.write_bytes(_compress(payload))
        paths.append(path)
        logger.info("wrote %s: %d lines (%d planted unusable)", path, payload.count(b"\n"),
                    len(corpus.bad_lines[name]))
    logger.info("demo pushshift: %d posts, %d comments in %.2f s", len(corpus.posts),
                len(corpus.comments), time.perf_counter() - began)
    return paths


# ---------------------------------------------------------------------------------------------
# UltraChat-format prompts
# ---------------------------------------------------------------------------------------------

_CONCEPTS = ("how photosynthesis works", "what inflation is", "how vaccines train the immune system",
             "why the sky is blue", "how a bill becomes a law", "what machine learning is",
             "how compound interest works", "why we have seasons", "how the internet routes data",
             "what a black hole is", "how batteries store energy",
             "why leaves change color in autumn", "how airplanes stay in the air",
             "what DNA does in a cell", "how recycling plants sort materials")
PROMPT_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Explain {x} in simple terms for a beginner.", _CONCEPTS),
    ("What is a good way to explain {x} to a ten year old?", _CONCEPTS),
    ("Write a short poem about {x}.",
     ("a rainy afternoon", "the first snow of winter", "an old lighthouse", "a cat watching birds",
      "the smell of fresh bread", "a quiet library", "a city at night", "a long train journey",
      "a garden in spring", "the ocean at sunrise", "a forgotten umbrella", "an old friendship")),
    ("Give me three practical tips for {x}.",
     ("staying focused while working from home", "learning a new language", "sleeping better",
      "keeping a small apartment tidy", "preparing for a job interview",
      "saving money on groceries", "starting a morning routine", "reading more books",
      "staying hydrated during the day", "making new friends in a new city",
      "reducing screen time", "studying for exams")),
    ("Summarize the main causes of {x} in a short paragraph.",
     ("the French Revolution", "the Great Depression", "the fall of the Roman Empire",
      "the First World War", "the Industrial Revolution", "the 2008 financial crisis",
      "the decline of the Maya cities", "the Dust Bowl")),
    ("What are the pros and cons of {x}?",
     ("working from home", "buying an electric car", "renting versus buying a home",
      "learning Python as a first programming language", "living in a big city",
      "taking a gap year", "using a standing desk", "owning a dog", "studying abroad",
      "a four day work week")),
    ("Write a friendly email to {x}.",
     tuple(f"{who} about {what}" for who in ("my neighbor", "a coworker", "my landlord",
                                             "a former teacher", "my team")
           for what in ("a noisy party next weekend", "rescheduling our meeting",
                        "a broken heater", "thanking them for their advice",
                        "the shared office kitchen"))),
    ("Suggest a weekend itinerary for {x}.",
     ("a first visit to Lisbon", "a rainy weekend in London", "a family trip to the mountains",
      "two days in Kyoto", "a beach town in winter", "a small college town")),
    ("Can you recommend some {x}?",
     tuple(f"{kind} for {who}" for kind in ("board games", "books", "podcasts", "hobbies",
                                            "easy recipes")
           for who in ("a family with young kids", "a busy student", "someone who just retired",
                       "a group of friends", "a rainy weekend"))),
    ("How do I {x}?",
     ("change a flat bicycle tire", "write a good cover letter", "make a simple budget",
      "care for a houseplant that gets little light", "start a vegetable garden on a balcony",
      "boil the perfect egg", "prepare for a half marathon", "back up the photos on my phone",
      "remove a coffee stain from a shirt", "run a short and useful team meeting")),
    ("Write the opening paragraph of a short story about {x}.",
     ("a robot who learns to paint", "a lighthouse keeper who finds a message in a bottle",
      "two strangers stuck in an elevator", "a town where it never stops raining",
      "a detective who is afraid of the dark", "a dragon who runs a bakery",
      "a letter delivered fifty years late", "a child who can talk to trees")),
    ("Describe the life cycle of {x}.",
     ("a butterfly", "a frog", "a sunflower", "a salmon", "an oak tree", "a honey bee")),
)
PROMPT_SUFFIXES = ("", " Keep it under one hundred words.", " Please use a friendly tone.")
_ANSWER_OPENERS = ("Sure, here is a clear answer.", "Of course! Here is what I would suggest.",
                   "Great question. Let me walk you through it.", "Happy to help with that.")
_ANSWER_BODIES = (
    "Start with the basic idea and keep it simple. Then add one concrete example so it is easy to "
    "remember. Finally, check that each step follows naturally from the one before.",
    "The key point is to focus on what matters most first. After that, the details fall into "
    "place, and a short summary at the end helps everything stick.",
    "Think of it in three parts: the goal, the steps to get there, and a quick way to check the "
    "result. Each part is short, so the whole thing stays easy to follow.",
    "A good approach is to break it into small pieces and handle them one at a time. That keeps "
    "it manageable and makes it easy to adjust along the way.",
)
_FOLLOW_UPS = ("Thanks! Can you make it a bit shorter?", "Could you give one concrete example?",
               "Can you turn that into a short bulleted list?",
               "That helps. What is the most common mistake people make here?",
               "Could you explain the second point in more detail?")
_FOLLOW_UP_ANSWERS = (
    "Absolutely. In short: keep it simple, give one example, and check the result.",
    "Here is an example: imagine doing it once slowly, noting each step, and then repeating it "
    "until it feels natural.",
    "- Start with the main idea\n- Add one example\n- Finish with a quick check",
    "The most common mistake is trying to do everything at once. Taking it step by step avoids "
    "that.",
    "Sure. The second point is about practice: a small example makes the idea concrete and easier "
    "to remember.",
)
ULTRACHAT_SCHEMA = pa.schema([
    ("prompt", pa.string()),
    ("prompt_id", pa.string()),
    ("messages", pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))),
])


def demo_prompts() -> list[str]:
    """Every distinct prompt the UltraChat generator can draw, in a fixed order."""
    return [template.format(x=fill) + suffix
            for template, fills in PROMPT_TEMPLATES for fill in fills for suffix in PROMPT_SUFFIXES]


def write_demo_ultrachat(path: Path, *, seed: int, n_prompts: int) -> None:
    """Write ``n_prompts`` distinct dialogues in the ``HuggingFaceH4/ultrachat_200k`` train_sft schema.

    Each row has 1-3 user/assistant turns; the first user turn is ``prompt``, and ``prompt_id`` is
    the SHA-256 hex digest of the prompt, as in the hub dataset.
    """
    pool = demo_prompts()
    if not isinstance(n_prompts, int) or not 1 <= n_prompts <= len(pool):
        raise ValueError(f"n_prompts must be an int in 1..{len(pool)} (distinct demo prompts), "
                         f"got {n_prompts!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    rng = _sub_rng(seed, "ultrachat")
    rows: list[dict[str, Any]] = []
    for prompt in rng.sample(pool, n_prompts):
        messages = [{"content": prompt, "role": "user"},
                    {"content": f"{rng.choice(_ANSWER_OPENERS)} {rng.choice(_ANSWER_BODIES)}",
                     "role": "assistant"}]
        for follow in rng.sample(range(len(_FOLLOW_UPS)), rng.randint(0, 2)):
            messages.append({"content": _FOLLOW_UPS[follow], "role": "user"})
            messages.append({"content": _FOLLOW_UP_ANSWERS[follow], "role": "assistant"})
        rows.append({"prompt": prompt, "prompt_id": hashlib.sha256(prompt.encode()).hexdigest(),
                     "messages": messages})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=ULTRACHAT_SCHEMA), path)
    logger.info("wrote %s: %d prompts", path, len(rows))
