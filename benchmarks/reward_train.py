"""Training throughput of the karma reward model for a backbone shape (random init, random tokens).

Measures full fine-tuning steps (forward, BCE, backward, AdamW) exactly as karma.reward.training does
them, on full-length sequences, and prints examples/s, tokens/s and, on a GPU, model FLOPs utilisation:
6 x N x tokens/s over the GPU's peak dense bf16 FLOP/s, where N counts the parameters that do matrix
work (all but the input embedding, which is a lookup). A second figure adds the attention score FLOPs
(12 x layers x hidden x sequence per token, PaLM's convention).

    python benchmarks/reward_train.py --preset tiny --device cpu --steps 5
    python benchmarks/reward_train.py --preset llama-3.2-1b --seq-len 512 --batch 16 --dtype bf16
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from karma.backbones import VocabInfo, causal_lm_config
from karma.reward.model import KarmaRewardConfig, KarmaRewardModel, pick_device
from karma.reward.training import micro_batch_loss

PRESETS: dict[str, tuple[dict, VocabInfo]] = {
    "tiny": (
        {
            "architecture": "llama",
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
        },
        VocabInfo(vocab_size=4000, bos_token_id=0, eos_token_id=1, pad_token_id=2),
    ),
    # meta-llama/Llama-3.2-1B's published shapes (config.json), randomly initialised.
    "llama-3.2-1b": (
        {
            "architecture": "llama",
            "hidden_size": 2048,
            "num_hidden_layers": 16,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "intermediate_size": 8192,
            "max_position_embeddings": 131072,
            "rms_norm_eps": 1e-5,
            "tie_word_embeddings": True,
            "head_dim": 64,
            "rope_parameters": {
                "rope_type": "llama3",
                "rope_theta": 500000.0,
                "factor": 32.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
            },
        },
        VocabInfo(vocab_size=128256, bos_token_id=128000, eos_token_id=128001, pad_token_id=None),
    ),
}
# Dense bf16 peak FLOP/s (no sparsity) by substring of torch.cuda.get_device_name().
PEAK_BF16 = {"A100": 312e12, "H100": 989e12, "H200": 989e12, "L40S": 362e12, "A10": 125e12}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    shape.add_argument(
        "--spec", help="backbone spec as JSON (karma.backbones), with 'vocab_size' added"
    )
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument(
        "--batch", type=int, default=16, help="micro-batch size (sequences per step)"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps")
    parser.add_argument("--warmup-steps", type=int, default=2, help="untimed steps first")
    parser.add_argument("--dtype", choices=("bf16", "fp32"), default="fp32", help="bf16 = autocast")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)"
    )
    parser.add_argument(
        "--peak-flops", type=float, default=None, help="peak FLOP/s for MFU (default: by GPU name)"
    )
    return parser.parse_args()


def build(args: argparse.Namespace) -> tuple[KarmaRewardModel, int]:
    if args.spec:
        spec = json.loads(args.spec)
        vocab = VocabInfo(
            vocab_size=spec.pop("vocab_size", 32000), bos_token_id=0, eos_token_id=1, pad_token_id=2
        )
    else:
        spec, vocab = PRESETS[args.preset]
    config = KarmaRewardConfig(
        text_config=causal_lm_config(spec, vocab), max_input_tokens=args.seq_len
    )
    torch.manual_seed(0)
    return KarmaRewardModel(config), vocab.vocab_size


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    model, vocab_size = build(args)
    model.to(device).train()
    if args.gradient_checkpointing:
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs={"use_reentrant": False}
        )
    text = model.config.text_config
    n_params = sum(p.numel() for p in model.parameters())
    n_matmul = n_params - model.backbone.get_input_embeddings().weight.numel()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(0, vocab_size, (args.batch, args.seq_len), generator=generator).to(
        device
    )
    attention_mask = torch.ones_like(input_ids)
    labels = torch.randint(0, 2, (args.batch,), generator=generator).float().to(device)
    autocast = torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16"
    )

    def step() -> float:
        with autocast:
            logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.squeeze(-1)
        loss = micro_batch_loss(logits, labels, args.batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()  # synchronises the device, so wall time covers the whole step

    for _ in range(args.warmup_steps):
        step()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - started

    tokens_per_s = args.steps * args.batch * args.seq_len / seconds
    result = {
        "preset": None if args.spec else args.preset,
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu x{torch.get_num_threads()}",
        "dtype": args.dtype,
        "seq_len": args.seq_len,
        "batch": args.batch,
        "steps": args.steps,
        "params": n_params,
        "matmul_params": n_matmul,
        "seconds_per_step": seconds / args.steps,
        "examples_per_s": args.steps * args.batch / seconds,
        "tokens_per_s": tokens_per_s,
    }
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = args.peak_flops or next((v for k, v in PEAK_BF16.items() if k in name), None)
        attention = 12 * text.num_hidden_layers * text.hidden_size * args.seq_len
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        result["peak_flops"] = peak
        if peak:
            result["mfu_6nt"] = 6 * n_matmul * tokens_per_s / peak
            result["mfu_with_attention"] = (6 * n_matmul + attention) * tokens_per_s / peak
        else:
            result["mfu_6nt"] = None  # unknown GPU: pass --peak-flops
    elif args.peak_flops:
        result["mfu_6nt"] = 6 * n_matmul * tokens_per_s / args.peak_flops
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
