"""Tables of the data stage: what the Pushshift dumps gave (every line kept or counted under one drop
reason) and the reward-model examples built from the threads, per input format and split."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from karma.data.labels import LabelRule
from karma.report.layout import DATA_EXAMPLES_STEM, DATA_THREADS_STEM
from karma.report.rendering import Entry, Rendered, fmt, write_formats
from karma.report.training_tables import ordered_settings

DUMP_KINDS = (("submissions", "submissions (RS)"), ("comments", "comments (RC)"))
SPLITS = ("train", "test")


def _read_json(path: str | Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read {what} {path}: {err}; re-run the data stage") from err
    if not isinstance(value, dict):
        raise ValueError(f"{what} {path} is not a JSON object; re-run the data stage")
    return value


def _reasons(dropped: Mapping[str, int]) -> str:
    """Drop reasons, most frequent first."""
    return "; ".join(f"{reason.replace('_', ' ')} {count}"
                     for reason, count in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))) or "-"


def write_threads_table(manifest_path: str | Path, out_dir: str | Path) -> list[Path]:
    """One row per dump file: lines read, kept, dropped and why (the threads manifest)."""
    manifest = _read_json(manifest_path, "threads manifest")
    missing = [key for key in ("submissions", "comments", "totals") if key not in manifest]
    if missing:
        raise ValueError(f"threads manifest {manifest_path} lacks {', '.join(missing)}; re-run build_threads")
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    unaccounted: list[str] = []
    file_warnings: list[str] = []
    for kind, label in DUMP_KINDS:
        for entry in manifest[kind]:
            dropped = {str(k): int(v) for k, v in entry.get("dropped", {}).items()}
            read, kept = int(entry["read"]), int(entry["kept"])
            gap = read - kept - sum(dropped.values())
            if gap:
                unaccounted.append(f"{Path(entry['file']).name} ({gap} line{'' if abs(gap) == 1 else 's'})")
            file_warnings += [f"{Path(entry['file']).name}: {warning}" for warning in entry.get("warnings", [])]
            rows.append([label, Path(entry["file"]).name, str(read), str(kept), str(sum(dropped.values())),
                         _reasons(dropped)])
            csv_rows.append([kind, entry["file"], read, kept, sum(dropped.values()),
                             json.dumps(dropped, sort_keys=True)])
    totals = manifest["totals"]
    notes = [f"Threads: {totals.get('posts', '?')} posts with {totals.get('comments', '?')} comments in "
             f"{totals.get('subreddits', '?')} subreddits, written as {totals.get('shards', '?')} Parquet shards "
             "(paper scale: about 80k posts, 400k comments, 14k subreddits).",
             "Submissions kept: eligible and sampled posts; comments kept: the responses in their threads."]
    notes.append("Every line read is kept or counted under one drop reason." if not unaccounted
                 else f"Lines neither kept nor counted as dropped: {', '.join(unaccounted)}.")
    notes += [f"Warning: {warning}" for warning in [*manifest.get("warnings", []), *file_warnings]]
    table = Rendered(
        title="Pushshift dumps to threads: lines read, kept and dropped per file",
        header=["Dump", "File", "Read", "Kept", "Dropped", "Drop reasons (count)"],
        rows=rows,
        align="llrrrl",
        notes=notes,
    )
    header = ["kind", "file", "read", "kept", "dropped", "dropped_by_reason"]
    return write_formats(Path(out_dir), DATA_THREADS_STEM, table, header, csv_rows)


def write_examples_table(
    example_stats: Mapping[str, str | Path], out_dir: str | Path, decimals: int = 3
) -> list[Path]:
    """One row per input format and split: examples, posts and the share labelled rewarding
    (``{setting: data/reward/<setting>/stats.json}``)."""
    if not example_stats:
        raise ValueError("no example statistics given; pass {setting: path to stats.json}")
    stats = {setting: _read_json(path, "example statistics") for setting, path in example_stats.items()}
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    notes = []
    for setting in ordered_settings(stats):
        entry = stats[setting]
        for split in SPLITS:
            if split not in entry:
                raise ValueError(f"example statistics of {setting} lack the {split} split; re-run build_examples")
            part = entry[split]
            rate = math.nan if part.get("positive_rate") is None else float(part["positive_rate"])
            rows.append([setting, split, str(part["examples"]), str(part["posts"]), fmt(rate, decimals)])
            csv_rows.append([setting, split, part["examples"], part["posts"], rate])
        if entry.get("dropped"):
            notes.append(f"{setting}: {entry.get('threads_rows', '?')} thread rows, not labelled: "
                         f"{_reasons(entry['dropped'])}.")
    rule = next((s["label_rule"] for s in stats.values() if "label_rule" in s), None)
    if rule is not None:
        notes.append("Label: " + LabelRule(**rule).describe().replace("*", "").replace("`", ""))
    notes.append("The split is grouped by post, so no thread is on both sides.")
    table = Rendered(
        title="Reward-model examples per input format and split",
        header=["Input format", "Split", "Examples", "Posts", "Rewarding share"],
        rows=rows,
        align="llrrr",
        notes=notes,
    )
    header = ["setting", "split", "examples", "posts", "positive_rate"]
    return write_formats(Path(out_dir), DATA_EXAMPLES_STEM, table, header, csv_rows)
