"""Ingest throughput of the comment scan against `zstd -dc` and a plain json.loads loop.

Generates an RC_ dump of realistic Pushshift comment lines (~60 keys, ~1 KB each, at least
200 MB of NDJSON), then measures in one run, on one core:
  - `zstd -dc dump.zst > /dev/null`              (the decompression floor)
  - a json.loads loop over the uncompressed NDJSON (the naive parser)
  - karma.data.comment_collection.collect_comments    (decompress + find kept posts' lines + parse)
Each is timed --repeats times in turn and its best time counts, as timeit does: the machine's
noise only ever adds time. Goals: ingest >= 0.5x the zstd rate and >= 4x the json.loads loop.

    python benchmarks/ingest.py --mb 220 --kept-fraction 0.01
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from karma.data.comment_collection import collect_comments, read_post_ids
from karma.data.filters import RedditFilters

_VOCAB_RNG = random.Random(0)
# A Zipf-like vocabulary of 20k pseudo-words: real comment text compresses about 5-8x with zstd -3,
# a tiny vocabulary would compress far better and flatter the decompression floor.
WORDS = ["".join(_VOCAB_RNG.choice(string.ascii_lowercase) for _ in range(_VOCAB_RNG.randint(2, 9)))
         for _ in range(20_000)]
WEIGHTS = [1.0 / (rank + 1) for rank in range(len(WORDS))]
EXTRA_KEYS = [f"extra_field_{i}" for i in range(45)]


def _base36(n: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def make_comment(rng: random.Random, i: int, n_posts: int, spaced: bool) -> bytes:
    post = _base36(10_000_000 + rng.randrange(n_posts))
    record = {
        "all_awardings": [], "author": f"user_{rng.randrange(10**6)}",
        "author_fullname": f"t2_{_base36(rng.randrange(36**7))}",
        "author_flair_css_class": None, "author_flair_text": None, "body": " ".join(
            rng.choices(WORDS, WEIGHTS, k=rng.randint(8, 90))),
        "controversiality": 0, "created_utc": 1672531200 + i, "distinguished": None,
        "edited": False, "gilded": 0, "id": _base36(900_000_000 + i), "is_submitter": False,
        "link_id": f"t3_{post}", "locked": False, "parent_id": f"t3_{post}",
        "permalink": f"/r/AskReddit/comments/{post}/x/{_base36(i)}/", "retrieved_on": 1672600000,
        "score": rng.randint(-5, 500), "send_replies": True, "stickied": False,
        "subreddit": "AskReddit", "subreddit_id": "t5_2qh1i", "subreddit_name_prefixed":
        "r/AskReddit", "subreddit_type": "public", "total_awards_received": 0,
    }
    record.update({key: None for key in EXTRA_KEYS[: rng.randint(25, 45)]})
    # Dumps of some eras (the 2024 lines in ../shared/data) are written with ", " and ": ".
    return json.dumps(record).encode() if spaced else orjson.dumps(record)


def generate(dump: Path, plain: Path, target_mb: int, n_posts: int, seed: int,
             spaced: bool) -> int:
    rng = random.Random(seed)
    written = 0
    cctx = zstandard.ZstdCompressor(level=3, write_checksum=True)  # as the zstd tool writes dumps
    with plain.open("wb") as raw, dump.open("wb") as handle, cctx.stream_writer(handle) as zst:
        i = 0
        while written < target_mb * 1_000_000:
            block = b"".join(make_comment(rng, i + k, n_posts, spaced) + b"\n"
                             for k in range(2000))
            i += 2000
            raw.write(block)
            zst.write(block)
            written += len(block)
    return written


def job_memory(dump: Path, posts: Path, workdir: Path) -> tuple[float, float]:
    """Peak RSS after the imports, and at the end, of one ingest in a fresh interpreter."""
    code = (
        "import resource, sys\n"
        "from karma.data.comment_collection import collect_comments\n"
        "from karma.data.filters import RedditFilters\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        "collect_comments(sys.argv[1], [sys.argv[2]], sys.argv[3] + '/rss.parquet',\n"
        "                 sys.argv[3] + '/rss.json', RedditFilters())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(dump), str(posts), str(workdir)],
                            stdout=subprocess.PIPE, text=True)
    imports_kb = float(proc.stdout.read())
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"the ingest job process failed with status {status}")
    return imports_kb / 1024, usage.ru_maxrss / 1024


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=220, help="uncompressed NDJSON size")
    parser.add_argument("--posts", type=int, default=200_000, help="distinct posts in the dump")
    # Paper config: reddit.candidate_fraction admits 5% of posts as candidates. If the posts that
    # pass the filters carry a fifth of a month's comments (our assumption), the candidates'
    # comments are about 1% of comment lines.
    parser.add_argument("--kept-fraction", type=float, default=0.01,
                        help="fraction of posts kept by post selection")
    parser.add_argument("--style", choices=["compact", "spaced"], default="compact",
                        help='separators of the dump lines: ":" or ": " (real dumps have both)')
    parser.add_argument("--repeats", type=int, default=3, help="timings of each; the best counts")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the goal states

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="karma-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    dump, plain = workdir / "RC_2023-01.zst", workdir / "RC_2023-01.ndjson"
    nbytes = generate(dump, plain, args.mb, args.posts, seed=1, spaced=args.style == "spaced")
    kept = [_base36(10_000_000 + k) for k in range(args.posts)
            if random.Random(k).random() < args.kept_fraction]
    posts = workdir / "posts.parquet"
    pq.write_table(pa.table({"post_id": kept}), posts)
    mb = nbytes / 1e6
    print(f"dump: {mb:.0f} MB NDJSON ({args.style}), {dump.stat().st_size / 1e6:.0f} MB zst, "
          f"{len(kept)} of {args.posts} posts kept")

    def zstd_cli() -> None:
        subprocess.run(["zstd", "-dc", "--long=31", str(dump)], stdout=subprocess.DEVNULL,
                       check=True)

    def json_loop() -> None:
        with plain.open("rb") as handle:
            for line in handle:
                json.loads(line)

    def ingest() -> None:
        collect_comments(dump, [posts], workdir / "out.parquet", workdir / "out.json",
                         RedditFilters())

    # One-time start-up of a job (the first Parquet read) does not grow with the dump: it is timed
    # and reported apart from the scan rate.
    startup = timed(lambda: read_post_ids([posts]))
    print(f"one-time job start-up: {startup:.2f} s (excluded from the rates below)")
    contenders = (("zstd -dc", zstd_cli), ("json.loads loop", json_loop), ("ingest", ingest))
    seconds: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for _ in range(args.repeats):
        for name, fn in contenders:
            seconds[name].append(timed(fn))
    for name, times in seconds.items():
        print(f"{name:>16}: " + ", ".join(f"{mb / t:7.1f}" for t in times) + " MB/s")
    results = {name: mb / min(times) for name, times in seconds.items()}
    kept_lines = json.loads((workdir / "out.json").read_text())["kept"]
    for name, rate in results.items():
        print(f"{name:>16}: {rate:8.1f} MB/s (best of {args.repeats})")
    imports_mb, peak_mb = job_memory(dump, posts, workdir)
    print(f"ingest kept {kept_lines} comment lines; a job process on the {mb:.0f} MB dump peaked at "
          f"{peak_mb:.0f} MB RSS, {imports_mb:.0f} MB of it after the imports")
    print(f"ingest / zstd -dc        = {results['ingest'] / results['zstd -dc']:.2f}  (goal >= 0.5)")
    print(f"ingest / json.loads loop = {results['ingest'] / results['json.loads loop']:.2f}"
          "  (goal >= 4)")
    met = (results["ingest"] >= 0.5 * results["zstd -dc"]
           and results["ingest"] >= 4 * results["json.loads loop"])
    print("goals met" if met else "goals MISSED")
    raise SystemExit(0 if met else 1)


if __name__ == "__main__":
    main()
