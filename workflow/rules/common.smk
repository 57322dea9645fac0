# Helpers, target functions and wildcard constraints, all derived from the validated config.
import glob
import os
import re
from pathlib import Path


RESULTS = f"results/{config['run']}"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
SETTINGS = ["generalized", "conditioned"]
PROMPT_SOURCES = ["reddit", "ultrachat"]
GLOB_CHARS = re.compile(r"[*?\[]")


def expand_dump_paths(key):
    """Config paths, with globs expanded against existing files; literal paths pass through so
    that a missing dump becomes the target of a rule that explains how to get it."""
    paths = []
    for entry in config["reddit"][key]:
        if GLOB_CHARS.search(entry):
            matched = sorted(glob.glob(entry))
            if not matched:
                raise ValueError(
                    f"config reddit.{key}: the pattern {entry!r} matches no file; "
                    "download the dumps first (see config/README.md) or list files explicitly"
                )
            paths.extend(matched)
        else:
            paths.append(entry)
    return paths


def dumps_by_name(key):
    """Dump file stem (e.g. RS_2019-01) -> path; stems name the per-dump jobs."""
    by_name = {}
    for path in expand_dump_paths(key):
        name = Path(path).name.split(".")[0]
        if name in by_name:
            raise ValueError(
                f"config reddit.{key}: two dumps share the name {name!r} "
                f"({by_name[name]} and {path}); each dump needs a distinct file name"
            )
        by_name[name] = path
    return by_name


SUBMISSION_DUMPS = dumps_by_name("submissions")
COMMENT_DUMPS = dumps_by_name("comments")
for _name in SUBMISSION_DUMPS.keys() & COMMENT_DUMPS.keys():
    raise ValueError(f"dump {_name!r} is listed as both a submissions and a comments dump")
for _name in SUBMISSION_DUMPS:
    if not _name.startswith("RS_"):
        raise ValueError(f"config reddit.submissions: {_name!r} is not an RS_ (submissions) dump")
for _name in COMMENT_DUMPS:
    if not _name.startswith("RC_"):
        raise ValueError(f"config reddit.comments: {_name!r} is not an RC_ (comments) dump")

DEMO_OUTPUTS = (
    [
        f"resources/demo/pushshift/{kind}_{month}.zst"
        for kind in ("RS", "RC")
        for month in config["demo"]["months"]
    ]
    if config["demo"]["enabled"]
    else []
)


def _alternatives(values):
    return "|".join(re.escape(v) for v in values)


wildcard_constraints:
    submissions_dump=_alternatives(SUBMISSION_DUMPS),
    comments_dump=_alternatives(COMMENT_DUMPS),
    setting=_alternatives(SETTINGS),
    source=_alternatives(PROMPT_SOURCES),
    shard=r"\d+",


def shard_paths():
    return [f"{RESULTS}/data/threads/shard-{k}.parquet" for k in range(config["reddit"]["shards"])]


def post_files():
    return [f"{RESULTS}/data/posts/{name}.parquet" for name in SUBMISSION_DUMPS]


def post_counts():
    return [f"{RESULTS}/data/posts/{name}.counts.json" for name in SUBMISSION_DUMPS]


def comment_files():
    return [f"{RESULTS}/data/comments/{name}.parquet" for name in COMMENT_DUMPS]


def comment_counts():
    return [f"{RESULTS}/data/comments/{name}.counts.json" for name in COMMENT_DUMPS]


def data_targets():
    return [
        *shard_paths(),
        f"{RESULTS}/data/threads/manifest.json",
        *expand(f"{RESULTS}/data/reward/{{setting}}/{{split}}.parquet",
                setting=SETTINGS, split=["train", "test"]),
        *expand(f"{RESULTS}/data/prompts/{{source}}.parquet", source=PROMPT_SOURCES),
    ]


def all_targets():
    return data_targets()
