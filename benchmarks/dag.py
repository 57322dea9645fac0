"""How long `snakemake -n` takes to plan the paper's DAG, and the same with ten times the policies.

The paper matrix grows with policies x variants x benchmarks; the plan (DAG building, input
functions, wildcard matching) must stay interactive as it grows. Measures, in the repository:
  - `snakemake -n --configfile config/paper.yaml`                    goal < 3 s
  - the same on a generated config whose policy list is 10x longer   goal < 10 s
The generated config copies each policy under a new name (`<name>-x<k>`) and is written to a
temporary directory. Each command runs --repeats times; the fastest run is the number reported
(the others are printed too), because a shared machine only ever adds noise.

    python benchmarks/dag.py [--factor 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "config" / "paper.yaml"
GOALS_S = {"paper": 3.0, "paper x10 policies": 10.0}


def multiplied(config: dict, factor: int) -> dict:
    """The paper config with every policy copied ``factor`` times under new names: the model, its
    per-policy settings, its place in each variant and in the paper-name map all grow together."""
    grown = copy.deepcopy(config)
    names = list(config["policies"])
    if not names:
        raise SystemExit(f"{PAPER.name} lists no policies")

    def copies(name: str) -> list[str]:
        return [name if k == 0 else f"{name}-x{k}" for k in range(factor)]

    for name in names:
        for copy_name in copies(name)[1:]:
            grown["models"][copy_name] = copy.deepcopy(config["models"][name])
            grown["policies"][copy_name] = copy.deepcopy(config["policies"][name])
    for variant in grown["variants"].values():
        variant["policies"] = [c for p in variant["policies"] for c in copies(p)]
    return grown


def time_dry_run(configfile: Path, repeats: int) -> tuple[list[float], int]:
    """Wall seconds of each `snakemake -n` run, and the number of jobs it planned."""
    seconds, jobs = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "snakemake", "-n", "--configfile", str(configfile)],
            cwd=REPO, capture_output=True, text=True,
        )
        seconds.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise SystemExit(
                f"snakemake -n --configfile {configfile} failed:\n{result.stderr[-3000:]}"
            )
        jobs = planned_jobs(result.stdout + result.stderr)
    return seconds, jobs


def planned_jobs(output: str) -> int:
    """The 'total' row of snakemake's job-stats table."""
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == "total" and fields[1].isdigit():
            return int(fields[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factor", type=int, default=10, help="goal applies to 10 only")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    paper = yaml.safe_load(PAPER.read_text())
    met = report("paper", PAPER, args.repeats, GOALS_S["paper"])
    with tempfile.TemporaryDirectory(prefix="karma-dag-") as tmp:
        grown_path = Path(tmp) / f"paper-x{args.factor}.yaml"
        grown_path.write_text(
            yaml.safe_dump(multiplied(paper, args.factor), sort_keys=False)
        )
        goal = GOALS_S["paper x10 policies"] if args.factor == 10 else None
        met &= report(f"paper x{args.factor} policies", grown_path, args.repeats, goal)
    sys.exit(0 if met else 1)


def report(label: str, configfile: Path, repeats: int, goal: float | None) -> bool:
    """Time one config, print one line; False when a goal was missed."""
    seconds, jobs = time_dry_run(configfile, repeats)
    best = min(seconds)
    verdict = "" if goal is None else f"goal < {goal:.0f} s: {'met' if best < goal else 'MISSED'}"
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"{label:>22}: {best:6.2f} s  ({jobs} jobs; runs: {runs})  {verdict}", flush=True)
    return goal is None or best < goal


if __name__ == "__main__":
    main()
