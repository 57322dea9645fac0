"""Downloads for the paper config, run as local rules on a login node with internet.

Compute jobs then read only ``resources/`` with the hub switched offline. The access token comes
from the ``HF_TOKEN`` environment variable (read by huggingface_hub itself) and is never logged or
written to a config file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PUSHSHIFT_HELP = """\
Pushshift dump {name} is missing at {path}.

Reddit dumps cannot be fetched by the workflow. To obtain them:
  1. Download the monthly files (RS_YYYY-MM.zst for submissions, RC_YYYY-MM.zst for comments)
     from the Pushshift archive on Academic Torrents ("Reddit comments/submissions 2005-06 to
     2023-12", https://academictorrents.com/details/9c263fc85366c1ef8f5bb9da0203f4c8c8db75f4)
     or your institution's mirror.
  2. Place them under resources/pushshift/ (or symlink them there), keeping their file names.
  3. List them in config/paper.yaml under reddit.submissions / reddit.comments, then re-run.
"""


def missing_dump_message(path: str | Path) -> str:
    path = Path(path)
    return PUSHSHIFT_HELP.format(name=path.name, path=path)


def _token_note() -> str:
    return "HF_TOKEN is set" if os.environ.get("HF_TOKEN") else "HF_TOKEN is not set"


def fetch_dataset_split(repo: str, split: str, out_path: str | Path,
                        config_name: str | None = None, revision: str | None = None) -> None:
    """Save one split (of one config) of a hub dataset as Parquet.

    ``datasets`` no longer runs loading scripts; a repository that still ships only a script fails
    with a message saying to point ``revision`` at the hub's Parquet export (``refs/convert/parquet``).
    """
    from datasets import __version__ as datasets_version
    from datasets import load_dataset

    log.info("fetching dataset %s/%s split %s at %s (%s)", repo, config_name or "default", split,
             revision or "main", _token_note())
    try:
        dataset = load_dataset(repo, config_name, split=split, revision=revision)
    except RuntimeError as err:
        if "scripts are no longer supported" not in str(err):
            raise
        raise RuntimeError(
            f"{repo} is a script-based dataset, which datasets {datasets_version} cannot "
            "run; set revision: refs/convert/parquet on its benchmarks.downloads entry to read the hub's "
            "Parquet export instead"
        ) from err
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    dataset.to_parquet(str(out_path))
    log.info("wrote %d rows to %s", len(dataset), out_path)


def fetch_model(repo: str, out_dir: str | Path, revision: str | None = None) -> None:
    """Snapshot a hub model's safetensors weights, config and tokenizer files into ``out_dir``."""
    from huggingface_hub import snapshot_download

    log.info("fetching model %s@%s (%s)", repo, revision or "main", _token_note())
    snapshot_download(
        repo_id=repo,
        revision=revision,
        local_dir=str(out_dir),
        allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt"],
    )
    if not any(Path(out_dir).glob("*.safetensors")):
        raise RuntimeError(
            f"{repo} has no safetensors weights; pick a revision that ships them "
            "(pickled .bin checkpoints are not loaded by this workflow)"
        )


def fetch_dataset_file(repo: str, filename: str, out_path: str | Path,
                       revision: str | None = None) -> None:
    """Copy one file of a hub dataset repository (e.g. a CSV) to ``out_path``."""
    import shutil

    from huggingface_hub import hf_hub_download

    log.info("fetching %s from dataset %s (%s)", filename, repo, _token_note())
    cached = hf_hub_download(repo_id=repo, filename=filename, repo_type="dataset",
                             revision=revision)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, out_path)


def fetch_benchmark_source(source: dict[str, str], out_path: str | Path) -> None:
    """``{repo, file}`` copies a file; ``{repo, split[, config]}`` saves a split as Parquet."""
    if "file" in source:
        fetch_dataset_file(source["repo"], source["file"], out_path, source.get("revision"))
    elif "split" in source:
        fetch_dataset_split(source["repo"], source["split"], out_path, source.get("config"),
                            source.get("revision"))
    else:
        raise ValueError(f"benchmark download {source}: give 'file' or 'split' (and 'config')")


def fetch_url(url: str, out_path: str | Path) -> None:
    """Download a release file (e.g. Detoxify's checkpoint on GitHub) to ``out_path`` atomically."""
    import shutil
    import urllib.request

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    log.info("downloading %s", url)
    with urllib.request.urlopen(url, timeout=120) as response, tmp.open("wb") as handle:
        shutil.copyfileobj(response, handle)
    tmp.replace(out)
    log.info("wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)


def fetch_model_files(repo: str, out_dir: str | Path, patterns: list[str]) -> None:
    """Only some files of a hub model, e.g. the config and tokenizer Detoxify builds on."""
    from huggingface_hub import snapshot_download

    log.info("fetching %s from %s (%s)", patterns, repo, _token_note())
    snapshot_download(repo_id=repo, local_dir=str(out_dir), allow_patterns=patterns)
