"""What a one-cell evaluation job pays before its items: the task index it builds, lm-eval's probes.

With ``benchmarks.job_per: cell`` every table cell is its own process, so per-call fixed costs are
paid once per cell (140 times in the paper config). These tests hold the two cuts made there to what
they must keep: each benchmark's task manager still finds every task its YAML names, and lm-eval's
environment probe is skipped only for the runner's call and put back after it.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import lm_eval.evaluator  # noqa: E402
import lm_eval.tasks  # noqa: E402
import pytest  # noqa: E402
from lm_eval.tasks._yaml_loader import load_yaml  # noqa: E402

from karma.evaluation import lm_eval_runner  # noqa: E402
from karma.evaluation.lm_eval_runner import BENCHMARKS, BUILTIN_TASK_FOLDERS, TASKS_DIR, make_task_manager  # noqa: E402

BUILTIN = Path(lm_eval.tasks.__file__).parent


def reused_builtin_tasks(benchmark: str) -> set[str]:
    """The lm-eval built-in tasks the benchmark's YAML names (none for karma's own tasks)."""
    config = load_yaml(TASKS_DIR / f"{lm_eval_runner._definition(benchmark).spec}.yaml", resolve_func=False)
    if "group" not in config:
        return set()
    names = {member if isinstance(member, str) else member["task"] for member in config["task"]}
    return {name for name in names if not name.startswith("karma_")}


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_each_benchmark_indexes_karma_and_only_the_builtin_folder_it_reuses(benchmark: str) -> None:
    manager = make_task_manager({}, benchmark)
    indexed = {name: entry for name, entry in manager.task_index.items() if entry.yaml_path is not None}
    builtin = {name for name, entry in indexed.items() if Path(entry.yaml_path).is_relative_to(BUILTIN)}
    own_spec = lm_eval_runner._definition(benchmark).spec
    assert own_spec in manager.all_groups or own_spec in manager.all_subtasks
    assert reused_builtin_tasks(benchmark) <= builtin
    folder = lm_eval_runner._definition(benchmark).builtin_folder
    assert (folder is None) == (not reused_builtin_tasks(benchmark))
    outside = {name for name in builtin if folder is None
               or not Path(indexed[name].yaml_path).is_relative_to(BUILTIN / folder)}
    assert outside == set()


def test_every_reused_folder_is_one_of_the_builtin_folders() -> None:
    folders = {lm_eval_runner._definition(b).builtin_folder for b in BENCHMARKS} - {None}
    assert folders == set(BUILTIN_TASK_FOLDERS)


def test_the_environment_probe_is_skipped_inside_the_runner_call_and_restored_after() -> None:
    probe = lm_eval.evaluator.add_env_info
    # simple_evaluate looks the probe up in its module at call time, so replacing it there takes effect
    assert "add_env_info(results)" in inspect.getsource(lm_eval.evaluator.simple_evaluate)
    with lm_eval_runner._without_environment_probe():
        storage: dict[str, object] = {}
        lm_eval.evaluator.add_env_info(storage)
        assert storage == {}
    assert lm_eval.evaluator.add_env_info is probe
    with pytest.raises(RuntimeError), lm_eval_runner._without_environment_probe():
        raise RuntimeError("a failing evaluation")
    assert lm_eval.evaluator.add_env_info is probe
