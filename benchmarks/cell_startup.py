"""CPU seconds of one evaluation cell in a fresh process: its imports, and the cell end to end.

With ``benchmarks.job_per: cell`` (the paper config, and the rehearsal that runs it on a CPU) every
table cell is its own job, so every cell pays the interpreter, torch, transformers and lm-eval
imports before its items. This script measures, each in a fresh interpreter:

  - import stages, cumulative: the interpreter alone, then torch, transformers' model classes
    (karma.backbones), lm-eval's evaluator, lm-eval's HF model wrapper, Detoxify;
  - one cell per benchmark given, run as the job runs it (``evaluate_policy`` with the rehearsal
    config's settings, bf16, one thread) on a rehearsal stand-in model.

CPU time is user + system of the child (``RUSAGE_CHILDREN``), so other load on a shared machine
adds little; each measurement runs ``--repeats`` times and the minimum is the number reported.
The cells need the rehearsal's pre-placed downloads: ``--workdir`` (default ``build/rehearsal/work``,
what ``make rehearsal`` leaves); without it they are made in a temporary folder first (~40 s).

    python benchmarks/cell_startup.py [--benchmarks humor truthfulqa toxicity] [--repeats 2]
    PYTHONPATH=<other checkout>/src python benchmarks/cell_startup.py ...   # that checkout's library

Measured 2026-11-30 on the shared 2-core machine (load average 6-14, so CPU seconds run high and
vary by about +-1 s between runs; one run each unless stated):

  - imports, each alone in a fresh interpreter (``/usr/bin/time``, load ~3-6): torch 3.5 s,
    lm_eval.models.huggingface (torch, transformers, accelerate) 6.1 s, lm_eval.evaluator 2.7 s,
    detoxify 4.7 s; imports together 9.1 s of a toxicity cell. Most of it is torch (its op
    registrations), transformers (its lazy import structure, model-loading modules that import
    torch._dynamo and sympy) and datasets/pandas/scipy, all needed by any cell.
  - a cell's own work, imports done (cProfile, humor, pythia-70m): 2.8 s CPU: loading the model
    ~1.2 s (transformers' checkpoint conversion mapping), bf16 forward passes ~1.8 s (bf16 matmul on
    this AVX2 CPU is ~18x slower than float32: 3.5 s against 0.2 s for a 19200x64 by 64x2048
    product), lm-eval's prompt templates ~0.7 s; then ``pip list`` and other commands that
    ``simple_evaluate``'s environment probe runs in subprocesses: 0.60-0.77 s (three calls).
  - TruthfulQA: its prompts carry lm-eval's six-shot preamble, 22.6 s CPU per cell against 14-16 s
    for the others at 24 items, and its built-in ``utils.py`` (sacrebleu, rouge_score, nltk) is
    imported for functions karma's group replaces: 1.5-2.8 s. The rehearsal's limit of 12 questions
    (config/rehearsal.yaml): the cell's work after imports, model load included, 10.7-11.2 s at 24
    questions -> 5.2-6.0 s at 12 (one process, the two alternated twice; predicted ~7 s saved,
    measured ~5.3 s), ~106 s CPU over the rehearsal's 20 TruthfulQA cells. In a fresh process the
    cell measured 22.60 s before and 20.79 s after, one run each: the noise hides half of that.
  - cells, before -> after skipping the probe and indexing one built-in folder per benchmark
    (two runs each, interleaved; baseline = commit 10c10f7 via PYTHONPATH): humor 15.26, 14.26 ->
    13.42, 13.68 s; bias 13.65, 13.05 -> 12.76, 14.16 s. The expected ~0.8 s per cell (probe
    0.6-0.77 s, index 0.07 s) is inside this machine's noise; the cell JSON is byte-identical
    (seven cells of pythia-70m/base compared, apart from the git dirty flag).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = ("humor", "sentiment", "toxicity", "bias", "sycophancy", "truthfulqa", "mmlu")
IMPORT_STAGES = {
    "interpreter": "",
    "+ torch": "import torch",
    "+ transformers models": "import karma.backbones",
    "+ lm_eval.evaluator": "import lm_eval.evaluator",
    "+ lm_eval HFLM": "import lm_eval.models.huggingface",
    "+ detoxify": "import detoxify",
}
CELL = """
import json, sys
from pathlib import Path
import yaml
from karma.evaluation.lm_eval_runner import benchmark_specs, evaluate_policy
config, overlay, policy, benchmark, out = sys.argv[1:6]
cfg = yaml.safe_load(Path(config).read_text())
cfg["benchmarks"]["toxicity"] |= yaml.safe_load(Path(overlay).read_text())["benchmarks"]["toxicity"]
b = cfg["benchmarks"]
evaluate_policy(f"resources/models/{policy}", policy, "base",
                benchmark_specs({benchmark: {"data": b["data"][benchmark],
                                             "primary_metric": b["metrics"].get(benchmark)}}),
                {benchmark: out}, device=b["device"], batch_size=b["batch_size"],
                limits={k: v for k, v in b["limits"].items() if k == benchmark},
                toxicity_cfg=b["toxicity"], dtype=b["dtype"], threads=1, run_config=cfg)
"""


def child_cpu_seconds(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """User + system CPU seconds of one child process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed:\n{result.stderr[-3000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(label: str, args: list[str], cwd: Path, env: dict[str, str], repeats: int) -> dict[str, object]:
    runs = [child_cpu_seconds(args, cwd, env) for _ in range(repeats)]
    print(f"{label:<28} {min(runs):7.2f} s CPU   (runs: {', '.join(f'{r:.2f}' for r in runs)})", flush=True)
    return {"what": label, "cpu_s": min(runs), "runs": runs}


def prepared_workdir(workdir: Path | None, stack: contextlib.ExitStack) -> Path:
    if workdir is not None:
        if not (workdir / "rehearsal-downloads.yaml").is_file():
            raise SystemExit(f"{workdir} holds no rehearsal downloads; run `make rehearsal` or omit --workdir")
        return workdir.resolve()
    scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cell-startup-")))
    subprocess.run([sys.executable, "-m", "karma.demo.rehearsal", str(scratch),
                    "--config", str(REPO / "config" / "rehearsal.yaml")], check=True, cwd=REPO)
    return scratch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmarks", nargs="*", default=list(BENCHMARKS), choices=BENCHMARKS)
    parser.add_argument("--policy", default="pythia-70m", help="a policy of config/rehearsal.yaml")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="a folder with the rehearsal's downloads (e.g. build/rehearsal/work)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-imports", action="store_true", help="skip the import stages")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    results = []
    if not args.no_imports:
        code = ""
        for label, statement in IMPORT_STAGES.items():
            code = f"{code}\n{statement}"
            results.append(measure(label, [sys.executable, "-c", code], REPO, env, args.repeats))
    with contextlib.ExitStack() as stack:
        workdir = prepared_workdir(args.workdir, stack) if args.benchmarks else REPO
        out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cell-out-")))
        for benchmark in args.benchmarks:
            command = [sys.executable, "-c", CELL, str(REPO / "config" / "rehearsal.yaml"),
                       "rehearsal-downloads.yaml", args.policy, benchmark, str(out / f"{benchmark}.json")]
            results.append(measure(f"cell {args.policy}/{benchmark}", command, workdir, env, args.repeats))
    total = sum(float(r["cpu_s"]) for r in results if str(r["what"]).startswith("cell "))  # type: ignore[arg-type]
    if args.benchmarks:
        print(f"{'cells, summed':<28} {total:7.2f} s CPU over {len(args.benchmarks)} benchmarks")
    if args.json:
        args.json.write_text(json.dumps({"load_average": os.getloadavg(), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
