"""Downloads for the paper config, run as local rules on a login node with internet.

Compute jobs then read only ``resources/`` with the hub switched offline. The access token comes
from the ``HF_TOKEN`` environment variable (read by huggingface_hub itself) and is never logged or
written to a config file.

Every hub fetch is pinned to a commit. A ``revision`` in the config (40 hex digits) is used as
given; without one, the fetch resolves the branch to its commit, warns, and records it in the lock
file ``resources/hub.lock.json``; later fetches of that repository use the locked commit, and a
config pin that differs from the lock is refused. Each fetched folder holds ``.hub-source.json``
(each fetched file a ``<file>.hub-source.json`` beside it) naming the repository and commit.

Every request goes through a :class:`HubClient`; the offline rehearsal (``karma.demo.rehearsal``)
passes one that serves generated files, so what lands in ``resources/`` (files, records, lock) is
written by these functions, as in a real fetch.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from karma.file_digest import expected_checkpoint_hash, verify_sha256

log = logging.getLogger(__name__)

LOCK_PATH = Path("resources/hub.lock.json")
SOURCE_NAME = ".hub-source.json"
# What fetch_model takes from a model repository: weights, configs, tokenizer files.
MODEL_FILE_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt"]
ULTRACHAT_REPO = "HuggingFaceH4/ultrachat_200k"
# Detoxify's `original` checkpoint builds on this repository's config and tokenizer: what fetch_detoxify takes.
DETOXIFY_CONFIG_REPO = "google-bert/bert-base-uncased"
DETOXIFY_CONFIG_PATTERNS = ["config.json", "tokenizer*", "vocab.txt", "special_tokens_map.json"]
COMMIT = re.compile(r"[0-9a-f]{40}")


def write_json(obj: Any, path: str | Path) -> None:
    # Imported here: the workflow reads this module's constants at parse time, parquet_io pulls pyarrow.
    from karma.parquet_io import write_json as write

    write(obj, path)


class HubPinError(RuntimeError):
    """A fetch would not be reproducible: the config and the lock file disagree on a commit."""


def _token_note() -> str:
    return "HF_TOKEN is set" if os.environ.get("HF_TOKEN") else "HF_TOKEN is not set"


def resolve_revision(repo: str, repo_type: str, revision: str | None) -> str:
    """The commit a branch or tag (default: the main branch) points at now; needs the network."""
    from huggingface_hub import HfApi

    return HfApi().repo_info(repo, repo_type=repo_type, revision=revision).sha


class HubClient:
    """The requests a fetch makes: the Hugging Face hub, ``datasets`` and plain HTTPS downloads."""

    def resolve_revision(self, repo: str, repo_type: str, revision: str | None) -> str:
        return resolve_revision(repo, repo_type, revision)

    def snapshot(self, repo: str, commit: str, local_dir: Path, patterns: list[str]) -> None:
        """The files of a model repository that match ``patterns``, into ``local_dir``."""
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id=repo, revision=commit, local_dir=str(local_dir), allow_patterns=patterns)

    def dataset_file(self, repo: str, filename: str, commit: str) -> str:
        """One file of a dataset repository; the path of its cached copy."""
        from huggingface_hub import hf_hub_download

        return hf_hub_download(repo_id=repo, filename=filename, repo_type="dataset", revision=commit)

    def dataset_split(self, repo: str, config_name: str | None, split: str, commit: str) -> Any:
        """One split of a hub dataset as a ``datasets.Dataset``."""
        from datasets import load_dataset

        return load_dataset(repo, config_name, split=split, revision=commit)

    def open_url(self, url: str) -> BinaryIO:
        import urllib.request

        return urllib.request.urlopen(url, timeout=120)


HUB = HubClient()


@contextmanager
def _lock_file(lock_path: Path) -> Iterator[dict[str, Any]]:
    """The lock file's entries, read and written back under an exclusive lock (parallel fetches)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.with_name(lock_path.name + ".flock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        entries = json.loads(lock_path.read_text()) if lock_path.is_file() else {}
        yield entries
        write_json(entries, lock_path)


def pinned_commit(repo: str, repo_type: str, revision: str | None,
                  lock_path: str | Path = LOCK_PATH, *, hub: HubClient = HUB) -> str:
    """The commit to fetch: the config's pin, else the locked one, else main's commit now (locked)."""
    key = f"{repo_type}:{repo}"
    if revision is not None and not COMMIT.fullmatch(revision):
        raise HubPinError(f"{key}: revision {revision!r} is not a commit hash (40 hex digits); "
                          "pin the commit, not a branch or tag")
    with _lock_file(Path(lock_path)) as entries:
        locked = entries.get(key)
        if revision is not None and locked not in (None, revision):
            raise HubPinError(
                f"{key}: the config pins {revision} but {lock_path} recorded {locked} from an "
                "earlier fetch. Fetching another commit would mix versions across runs: if the "
                f"new pin is intended, delete the entry {key!r} from {lock_path} and the fetched "
                "files, then fetch again")
        commit = revision or locked
        if commit is None:
            commit = hub.resolve_revision(repo, repo_type, None)
            log.warning("%s is NOT PINNED in the config: fetching main at commit %s and recording "
                        "it in %s; pin it with revision: %s", key, commit, lock_path, commit)
        elif revision is None:
            log.warning("%s is not pinned in the config: using commit %s recorded in %s",
                        key, commit, lock_path)
        entries[key] = commit
    return commit


def _record_source(out: Path, repo: str, repo_type: str, commit: str, **details: Any) -> None:
    record = {"repo": repo, "repo_type": repo_type, "revision": commit, **details}
    target = out / SOURCE_NAME if out.is_dir() else out.with_name(out.name + SOURCE_NAME)
    write_json(record, target)


def fetch_dataset_split(repo: str, split: str, out_path: str | Path,
                        config_name: str | None = None, revision: str | None = None, *,
                        hub: HubClient = HUB) -> None:
    """Save one split (of one config) of a hub dataset as Parquet.

    ``datasets`` no longer runs loading scripts; a repository that still ships only a script fails
    with a message saying to pin a commit of the hub's Parquet export (``refs/convert/parquet``).
    """
    from datasets import __version__ as datasets_version

    commit = pinned_commit(repo, "dataset", revision, hub=hub)
    log.info("fetching dataset %s/%s split %s at %s (%s)", repo, config_name or "default", split,
             commit, _token_note())
    try:
        dataset = hub.dataset_split(repo, config_name, split, commit)
    except RuntimeError as err:
        if "scripts are no longer supported" not in str(err):
            raise
        raise RuntimeError(
            f"{repo} is a script-based dataset, which datasets {datasets_version} cannot run; set "
            "revision on its benchmarks.downloads entry to a commit of the hub's Parquet export "
            "(the branch refs/convert/parquet) and delete its entry in "
            f"{LOCK_PATH} if one was recorded"
        ) from err
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    dataset.to_parquet(str(out))
    _record_source(out, repo, "dataset", commit, config=config_name, split=split)
    log.info("wrote %d rows to %s", len(dataset), out)


def fetch_model(repo: str, out_dir: str | Path, revision: str | None = None, *,
                hub: HubClient = HUB) -> None:
    """Snapshot a hub model's safetensors weights, config and tokenizer files into ``out_dir``."""
    fetch_model_files(repo, out_dir, MODEL_FILE_PATTERNS, revision, hub=hub)
    if not any(Path(out_dir).glob("*.safetensors")):
        raise RuntimeError(
            f"{repo} has no safetensors weights; pick a revision that ships them "
            "(pickled .bin checkpoints are not loaded by this workflow)"
        )


def fetch_dataset_file(repo: str, filename: str, out_path: str | Path,
                       revision: str | None = None, *, hub: HubClient = HUB) -> None:
    """Copy one file of a hub dataset repository (e.g. a CSV) to ``out_path``."""
    import shutil

    commit = pinned_commit(repo, "dataset", revision, hub=hub)
    log.info("fetching %s from dataset %s at %s (%s)", filename, repo, commit, _token_note())
    cached = hub.dataset_file(repo, filename, commit)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, out)
    _record_source(out, repo, "dataset", commit, file=filename)


def fetch_benchmark_source(source: dict[str, str], out_path: str | Path, *,
                           hub: HubClient = HUB) -> None:
    """``{repo, file}`` copies a file; ``{repo, split[, config]}`` saves a split as Parquet."""
    if "file" in source:
        fetch_dataset_file(source["repo"], source["file"], out_path, source.get("revision"), hub=hub)
    elif "split" in source:
        fetch_dataset_split(source["repo"], source["split"], out_path, source.get("config"),
                            source.get("revision"), hub=hub)
    else:
        raise ValueError(f"benchmark download {source}: give 'file' or 'split' (and 'config')")


def fetch_url(url: str, out_path: str | Path, sha256: str | None, what: str, *,
              hub: HubClient = HUB) -> None:
    """Download a release file (e.g. Detoxify's checkpoint on GitHub) and verify it before it is
    moved into place: against ``sha256`` (config key ``what``) or, without one, against the hash
    prefix its published name carries, as torch.hub does."""
    import shutil
    import urllib.parse

    expected = expected_checkpoint_hash(Path(urllib.parse.urlparse(url).path).name, sha256, what)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    log.info("downloading %s", url)
    with hub.open_url(url) as response, tmp.open("wb") as handle:
        shutil.copyfileobj(response, handle)
    try:
        digest = verify_sha256(tmp, expected, what)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    write_json({"url": url, "sha256": digest}, out.with_name(out.name + SOURCE_NAME))
    log.info("wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)


def fetch_model_files(repo: str, out_dir: str | Path, patterns: list[str],
                      revision: str | None = None, *, hub: HubClient = HUB) -> None:
    """Some or all files of a hub model at a pinned commit, e.g. the config Detoxify builds on."""
    commit = pinned_commit(repo, "model", revision, hub=hub)
    log.info("fetching %s from %s at %s (%s)", patterns, repo, commit, _token_note())
    hub.snapshot(repo, commit, Path(out_dir), patterns)
    _record_source(Path(out_dir), repo, "model", commit, patterns=patterns)
