import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from karma.backbones import causal_lm_config, load_tokenizer
from karma.demo.tokenizer_training import train_bpe_tokenizer
from karma.formats import Conversation, render_example
from karma.resumable_training import TrainingInterrupted, collate, epoch_order, latest_checkpoint
from karma.reward.metrics import binary_metrics
from karma.reward.model import KarmaRewardConfig, KarmaRewardModel, RewardScorer
from karma.reward.training import micro_batch_loss, train_reward_model

SPEC = {
    "architecture": "llama",
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "intermediate_size": 32,
    "max_position_embeddings": 128,
}
# 48 examples, batch 16 in micro-batches of 8: 3 steps per epoch, 6 steps in all, a checkpoint every 2.
CONFIG = {
    "learning_rate": 3e-3,
    "epochs": 2,
    "batch_size": 16,
    "micro_batch_size": 8,
    "max_length": 48,
    "warmup_ratio": 0.2,
    "checkpoint_every_steps": 2,
    "log_every_steps": 1,
    "eval_batch_size": 8,
    "seed": 7,
    "device": "cpu",
}
GOOD = "thanks that was funny".split()
BAD = "no you are wrong".split()


def split(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = int(rng.integers(0, 2))
        words = [str(w) for w in rng.choice(GOOD if label else BAD, size=5)]
        conv = Conversation(title=f"post {i % 9} about cats", body="my cat sat on the mat")
        rows.append(
            {
                "example_id": f"s{seed}-{i}",
                "post_id": f"p{i // 3}",
                "label": label,
                "text": render_example(conv, " ".join(words), "generalized"),
            }
        )
    return pd.DataFrame(rows)


def write_world(root, train: pd.DataFrame, test: pd.DataFrame):
    """The two splits and a tokenizer trained on the training texts, as a run's inputs."""
    train.to_parquet(root / "train.parquet")
    test.to_parquet(root / "test.parquet")
    train_bpe_tokenizer(list(train.text), vocab_size=300).save_pretrained(root / "tok")
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return write_world(tmp_path_factory.mktemp("world"), split(48, 0), split(16, 1))


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run(world, out, config=CONFIG, on_step=None):
    return train_reward_model(
        world / "train.parquet",
        world / "test.parquet",
        out / "model",
        out / "metrics.json",
        out / "checkpoints",
        config,
        backbone=SPEC,
        tokenizer_dir=world / "tok",
        threads=1,
        on_step=on_step,
    )


@pytest.fixture(scope="module")
def reference(world, tmp_path_factory):
    """The uninterrupted run every resumed run must reproduce."""
    out = tmp_path_factory.mktemp("reference")
    threads = torch.get_num_threads()
    metrics = run(world, out)
    torch.set_num_threads(threads)
    return out, metrics


def weights(out):
    return load_file(str(out / "model" / "model.safetensors"))


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert set(wa) == set(wb)
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def test_epoch_order_is_a_seeded_permutation():
    first = epoch_order(3, 0, 50)
    assert sorted(first.tolist()) == list(range(50))
    assert np.array_equal(first, epoch_order(3, 0, 50))
    assert not np.array_equal(first, epoch_order(3, 1, 50))
    assert not np.array_equal(first, epoch_order(4, 0, 50))


def test_loss_is_bce_and_accumulation_matches_one_batch(world):
    tokenizer = load_tokenizer(world / "tok")
    config = KarmaRewardConfig(text_config=causal_lm_config(SPEC, tokenizer), max_input_tokens=48)
    torch.manual_seed(0)
    model = KarmaRewardModel(config)
    data = split(16, 2)
    ids = tokenizer(list(data.text))["input_ids"]
    labels = torch.tensor(data.label.to_numpy(), dtype=torch.float32)

    logits = model(**collate(ids, tokenizer.pad_token_id)).logits.squeeze(-1)
    loss = micro_batch_loss(logits, labels, 16)
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(logits, labels))
    loss.backward()
    full = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()

    accumulated = 0.0
    for start in range(0, 16, 4):
        part = model(**collate(ids[start : start + 4], tokenizer.pad_token_id)).logits.squeeze(-1)
        piece = micro_batch_loss(part, labels[start : start + 4], 16)
        piece.backward()
        accumulated += piece.item()
    assert accumulated == pytest.approx(loss.item(), abs=1e-6)
    for whole, parts in zip(full, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(parts, whole, atol=1e-6, rtol=1e-4)


def test_training_writes_model_and_metrics(world, reference):
    out, metrics = reference
    written = json.loads((out / "metrics.json").read_text())
    assert written == json.loads(json.dumps(metrics))
    assert written["n"] == 16 and written["threshold"] == 0.5
    assert {"accuracy", "f1", "roc_auc", "pr_auc", "roc_curve", "label_positive_rate"} <= set(
        written
    )
    assert written["training"]["steps"] == 6 and written["training"]["resumed_from_step"] == 0
    assert not (out / "checkpoints").exists()
    scorer = RewardScorer.from_pretrained(out / "model", device="cpu")
    assert scorer.max_length == 48
    test = pd.read_parquet(world / "test.parquet")
    assert binary_metrics(test.label, scorer.score(list(test.text)))["roc_auc"] == pytest.approx(
        written["roc_auc"]
    )


def test_sigkilled_run_resumes_from_its_checkpoint(world, reference, tmp_path, caplog):
    script = textwrap.dedent(f"""
        import os, signal, sys, json
        sys.path[:0] = {sys.path!r}
        from karma.reward.training import train_reward_model
        from pathlib import Path
        def kill(step):
            if step == 3:  # a checkpoint exists for step 2; step 3 is lost
                os.kill(os.getpid(), signal.SIGKILL)
        out, world = Path({str(tmp_path)!r}), Path({str(world)!r})
        train_reward_model(world / "train.parquet", world / "test.parquet", out / "model",
            out / "metrics.json", out / "checkpoints", json.loads({json.dumps(json.dumps(CONFIG))}),
            backbone={SPEC!r}, tokenizer_dir=world / "tok", threads=1, on_step=kill)
    """)
    killed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step-00000002"
    assert not (tmp_path / "model").exists()

    seen = []
    with caplog.at_level(logging.INFO, logger="karma"):  # the resume is logged by karma.resumable_training
        metrics = run(world, tmp_path, on_step=seen.append)
    assert seen == [3, 4, 5, 6]
    assert "resumed from checkpoint" in caplog.text and "at step 2 of 6" in caplog.text
    assert metrics["training"]["resumed_from_step"] == 2 and metrics["training"]["steps"] == 6
    assert_same_weights(tmp_path, reference[0])
    assert metrics["roc_auc"] == reference[1]["roc_auc"]


def test_sigterm_checkpoints_then_stops_and_a_changed_config_is_refused(world, reference, tmp_path):
    def terminate(step):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    def outer_handler(signum, frame):  # whatever handled SIGTERM before training
        raise AssertionError("training must handle SIGTERM itself while it runs")

    previous = signal.signal(signal.SIGTERM, outer_handler)
    try:
        with pytest.raises(TrainingInterrupted, match="after step 3 of 6"):
            run(world, tmp_path, on_step=terminate)
        assert signal.getsignal(signal.SIGTERM) is outer_handler  # and it is back afterwards
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step-00000003"
    assert not (tmp_path / "model").exists() and not (tmp_path / "metrics.json").exists()

    with pytest.raises(ValueError, match="delete .*checkpoints"):
        run(world, tmp_path, config={**CONFIG, "learning_rate": 1e-3})

    # Logging and checkpoint cadence may change between attempts; the result must not.
    metrics = run(
        world, tmp_path, config={**CONFIG, "log_every_steps": 5, "checkpoint_every_steps": 4}
    )
    assert metrics["training"]["resumed_from_step"] == 3
    assert_same_weights(tmp_path, reference[0])


def test_sigterm_from_outside_stops_the_job_after_a_checkpoint(world, tmp_path):
    """What SLURM does before a kill: another process sends SIGTERM. The job writes a checkpoint of
    the step in progress (step 3; the cadence alone would write 2 and 4), exits with an error that
    says how to resume, and writes no model."""
    ready, sent = tmp_path / "ready", tmp_path / "sent"
    script = textwrap.dedent(f"""
        import json, sys, time
        sys.path[:0] = {sys.path!r}
        from pathlib import Path
        from karma.job_logging import setup_job_logging
        from karma.reward.training import train_reward_model
        out, world = Path({str(tmp_path)!r}), Path({str(world)!r})
        def wait_for_the_signal(step):
            if step == 3:
                (out / "ready").touch()
                for _ in range(1200):  # the handler runs during the sleeps
                    if (out / "sent").exists():
                        return
                    time.sleep(0.05)
        setup_job_logging(out / "job.log")
        train_reward_model(world / "train.parquet", world / "test.parquet", out / "model",
            out / "metrics.json", out / "checkpoints", json.loads({json.dumps(json.dumps(CONFIG))}),
            backbone={SPEC!r}, tokenizer_dir=world / "tok", threads=1, on_step=wait_for_the_signal)
    """)
    job = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        for _ in range(3000):
            if ready.exists() or job.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), job.communicate()[1][-2000:]
        job.send_signal(signal.SIGTERM)
        sent.touch()
        _, stderr = job.communicate(timeout=300)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 1, stderr[-2000:]
    assert "TrainingInterrupted: stopped by SIGTERM after step 3 of 6" in stderr
    assert "re-run the job to resume" in stderr
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step-00000003"
    assert not (tmp_path / "model").exists() and not (tmp_path / "metrics.json").exists()
    log = (tmp_path / "job.log").read_text()
    assert "SIGTERM received: checkpointing after the current step, then stopping" in log
    written = [line for line in log.splitlines() if "checkpoint written: " in line]
    assert [line.rsplit("/", 1)[-1] for line in written] == ["step-00000002", "step-00000003"]
    assert log.index("SIGTERM received") < log.index(written[-1])


def test_incomplete_checkpoints_are_ignored(tmp_path):
    (tmp_path / "step-00000004").mkdir()
    (tmp_path / "step-00000004" / "state.json").write_text("{}")
    (tmp_path / "step-00000006").mkdir()  # renamed dirs always hold state.json: this one is foreign
    (tmp_path / ".tmp-step-00000008-123").mkdir()
    assert latest_checkpoint(tmp_path).name == "step-00000004"
    assert latest_checkpoint(tmp_path / "absent") is None


def test_gradient_checkpointing_keeps_the_math_and_bf16_changes_it(world, tmp_path):
    short = {**CONFIG, "max_steps": 2}
    for name, extra in [
        ("plain", {}),
        ("checkpointed", {"gradient_checkpointing": True}),
        ("bf16", {"bf16": True}),
    ]:
        metrics = run(world, tmp_path / name, config={**short, **extra})
        assert metrics["training"]["steps"] == 2
    plain, checkpointed, bf16 = (weights(tmp_path / n) for n in ("plain", "checkpointed", "bf16"))
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], atol=1e-6, rtol=1e-5)
    assert bf16["score.4.weight"].dtype == torch.float32  # master weights stay fp32 under autocast
    assert any(not torch.equal(bf16[name], plain[name]) for name in plain)


def test_missing_columns_are_reported(world, tmp_path):
    pd.DataFrame({"text": ["a"], "label": [1]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="example_id"):
        train_reward_model(
            tmp_path / "bad.parquet",
            world / "test.parquet",
            tmp_path / "m",
            tmp_path / "m.json",
            tmp_path / "c",
            CONFIG,
            backbone=SPEC,
            tokenizer_dir=world / "tok",
        )
