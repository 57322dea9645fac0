"""The rehearsal's pre-placed downloads: everything ``config/rehearsal.yaml`` would fetch, made offline.

``config/rehearsal.yaml`` is ``config/paper.yaml`` with only sizes changed, run end to end offline
(``make rehearsal``). What the paper run downloads on a login node (hub models, benchmark files and
splits, UltraChat, Detoxify's checkpoint and BERT files) and what its user provides (Pushshift dumps)
is made here, before Snakemake starts, and placed where the download rules would put it:

- the dumps: the demo's synthetic Pushshift writer, for the months the configured dump names carry;
- everything from the hub: a :class:`LocalHub` serves tiny stand-in repositories
  (:mod:`karma.demo.hub_models`, :mod:`karma.demo.hub_datasets`, :mod:`karma.demo.detoxify_checkpoint`)
  to the download functions of :mod:`karma.hub_fetch`, called as the download rules call them. So
  the folders, files, ``.hub-source.json`` records and ``resources/hub.lock.json`` are the ones a real
  fetch writes; only the bytes come from here instead of the network.

The Detoxify checkpoint is generated, so its SHA-256 is known only now: it is written to a config
overlay (``rehearsal-downloads.yaml``) that the run layers over ``config/rehearsal.yaml``, as the paper's
``detoxify_sha256`` is the published checkpoint's. Run as ``python -m karma.demo.rehearsal``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import torch
import yaml
import zstandard

from karma.demo.detoxify_checkpoint import write_detoxify_checkpoint
from karma.demo.hub_datasets import HubDatasets
from karma.demo.hub_models import write_model_repository
from karma.demo.pushshift_writer import write_demo_pushshift
from karma.evaluation.toxicity import DETOXIFY_CHECKPOINT_URL
from karma.hub_fetch import (
    DETOXIFY_CONFIG_PATTERNS,
    DETOXIFY_CONFIG_REPO,
    ULTRACHAT_REPO,
    HubClient,
    fetch_benchmark_source,
    fetch_dataset_split,
    fetch_model,
    fetch_model_files,
    fetch_url,
)

log = logging.getLogger(__name__)

OVERLAY_NAME = "rehearsal-downloads.yaml"
DUMP_NAME = re.compile(r"R[SC]_(\d{4}-\d{2})\.zst$")
# Sizes of what the rehearsal pre-places (the paper's are the real dumps and datasets).
N_POSTS = 3000
N_ULTRACHAT = 200
DETOXIFY_STEPS = 200


class LocalHub(HubClient):
    """A hub that serves the rehearsal's generated repositories; nothing touches the network.

    Unpinned repositories resolve to a commit derived from their name, so the lock file records a
    40-hex commit as it would for the real hub.
    """

    def __init__(self, models_dir: Path, datasets: HubDatasets, urls: Mapping[str, Path]) -> None:
        self._models, self._datasets, self._urls = models_dir, datasets, dict(urls)

    def resolve_revision(self, repo: str, repo_type: str, revision: str | None) -> str:
        return hashlib.sha1(f"rehearsal:{repo_type}:{repo}".encode()).hexdigest()

    def snapshot(self, repo: str, commit: str, local_dir: Path, patterns: list[str]) -> None:
        from huggingface_hub._local_folder import write_download_metadata
        from huggingface_hub.utils import filter_repo_objects

        source = self._models / repo
        if not source.is_dir():
            raise FileNotFoundError(f"the rehearsal's hub has no model repository {repo!r}")
        files = sorted(path.relative_to(source).as_posix() for path in source.rglob("*") if path.is_file())
        for name in filter_repo_objects(files, allow_patterns=patterns):
            target = Path(local_dir) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target)
            # the download record huggingface_hub keeps in <local_dir>/.cache/huggingface
            write_download_metadata(Path(local_dir), name, commit, hashlib.sha256(target.read_bytes()).hexdigest())

    def dataset_file(self, repo: str, filename: str, commit: str) -> str:
        return str(self._datasets.file(repo, filename))

    def dataset_split(self, repo: str, config_name: str | None, split: str, commit: str) -> Any:
        return self._datasets.split(repo, config_name, split)

    def open_url(self, url: str) -> BinaryIO:
        if url not in self._urls:
            raise FileNotFoundError(f"the rehearsal's hub serves no {url}")
        return self._urls[url].open("rb")


def dump_months(config: Mapping[str, Any]) -> tuple[Path, list[str]]:
    """The folder and months of the configured dumps (``RS_<YYYY-MM>.zst``/``RC_...``), one folder."""
    paths = [Path(p) for key in ("submissions", "comments") for p in config["reddit"][key]]
    folders = {path.parent for path in paths}
    unnamed = [str(path) for path in paths if not DUMP_NAME.fullmatch(path.name)]
    if unnamed or len(folders) != 1:
        raise ValueError(f"the rehearsal writes RS_/RC_<YYYY-MM>.zst dumps into one folder; the config names "
                         f"{', '.join(map(str, paths))}")
    return folders.pop(), sorted({DUMP_NAME.fullmatch(path.name).group(1) for path in paths})  # type: ignore[union-attr]


def dump_texts(paths: list[Path]) -> list[str]:
    """Titles, self texts and comment bodies of the written dumps: the stand-in tokenizers' corpus."""
    texts = []
    for path in paths:
        with path.open("rb") as handle:
            raw = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(handle).read()
        for line in io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"):
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    texts += [str(record[k]) for k in ("title", "selftext", "body") if record.get(k)]
    return texts


def used_hub_models(config: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The hub models the workflow fetches: the policies and the reward backbone."""
    names = dict.fromkeys([*config["policies"], config["reward"]["backbone"]])
    return {name: config["models"][name] for name in names if "hub" in config["models"][name]}


def prepare_rehearsal(config: Mapping[str, Any], *, seed: int | None = None, n_posts: int = N_POSTS,
                      n_ultrachat: int = N_ULTRACHAT, detoxify_steps: int = DETOXIFY_STEPS) -> Path:
    """Pre-place every download of ``config`` under the current directory; returns the overlay path."""
    seed = config["seed"] if seed is None else seed
    if config["demo"]["enabled"]:
        raise ValueError("the rehearsal pre-places the paper's downloads; this config runs the demo")
    torch.set_num_threads(1)  # a CPU shared with other jobs makes tiny training many times slower on 2+ threads
    folder, months = dump_months(config)
    dumps = write_demo_pushshift(folder, seed=seed, n_posts=n_posts, months=months)
    configured = {str(Path(p)) for key in ("submissions", "comments") for p in config["reddit"][key]}
    if configured != {str(path) for path in dumps}:
        raise RuntimeError(f"the demo writer wrote {sorted(map(str, dumps))}, the config names {sorted(configured)}")
    texts = dump_texts(dumps)
    toxicity = config["benchmarks"]["toxicity"]
    with tempfile.TemporaryDirectory(prefix="rehearsal-hub-") as scratch:
        root = Path(scratch)
        models = used_hub_models(config)
        for number, spec in enumerate(models.values()):
            if not (root / "models" / spec["hub"]).exists():
                write_model_repository(spec["hub"], texts, root / "models" / spec["hub"], seed=seed + number)
        checkpoint = root / "urls" / Path(DETOXIFY_CHECKPOINT_URL).name
        digest = write_detoxify_checkpoint(checkpoint, root / "models" / DETOXIFY_CONFIG_REPO, seed=seed,
                                           steps=detoxify_steps)
        hub = LocalHub(root / "models", HubDatasets(root / "datasets", seed=seed, n_ultrachat=n_ultrachat),
                       {DETOXIFY_CHECKPOINT_URL: checkpoint})
        for name, spec in models.items():
            fetch_model(spec["hub"], f"resources/models/{name}", spec.get("revision"), hub=hub)
        ultrachat = config["prompts"]["ultrachat"]
        fetch_dataset_split(ULTRACHAT_REPO, "train_sft", ultrachat["source"], revision=ultrachat.get("revision"),
                            hub=hub)
        # Benchmarks read from files; the karma reward benchmark reads the held-out prompts instead.
        data = config["benchmarks"]["data"]
        used = {str(p) for name in config["benchmarks"]["names"] if name in data for p in _paths(data[name])}
        for file, source in config["benchmarks"].get("downloads", {}).items():
            if f"resources/benchmarks/{file}" in used:
                fetch_benchmark_source(source, f"resources/benchmarks/{file}", hub=hub)
        fetch_url(DETOXIFY_CHECKPOINT_URL, toxicity["detoxify_checkpoint"], digest,
                  "benchmarks.toxicity.detoxify_sha256", hub=hub)
        fetch_model_files(DETOXIFY_CONFIG_REPO, toxicity["detoxify_config_dir"], DETOXIFY_CONFIG_PATTERNS,
                          toxicity.get("detoxify_config_revision"), hub=hub)
    overlay = Path(OVERLAY_NAME)
    overlay.write_text(
        "# Written by karma.demo.rehearsal: the SHA-256 of the Detoxify checkpoint its local hub published\n"
        "# (the paper config carries the released checkpoint's). Layer it over config/rehearsal.yaml.\n"
        + yaml.safe_dump({"benchmarks": {"toxicity": {"detoxify_sha256": digest}}}))
    log.info("rehearsal downloads pre-placed in %s; config overlay %s", Path.cwd(), overlay)
    return overlay


def _paths(value: Any) -> list[Any]:
    return list(value.values()) if isinstance(value, dict) else [value]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path, help="the run's working directory (snakemake --directory)")
    parser.add_argument("--config", type=Path, default=Path("config/rehearsal.yaml"))
    parser.add_argument("--n-posts", type=int, default=N_POSTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = yaml.safe_load(args.config.read_text())
    args.workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(args.workdir):
        prepare_rehearsal(config, n_posts=args.n_posts)


if __name__ == "__main__":
    main()
