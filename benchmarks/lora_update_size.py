"""How far AdamW moves a weight matrix under LoRA against full fine-tuning at the same learning rate.

The PPO learning rate of the paper config (1e-6) was chosen for full fine-tuning; the 7B/8B policies
train LoRA adapters instead. With Adam every trained entry moves by about the learning rate per step,
so a full update of a d x d matrix has Frobenius norm ~ lr * d, while the LoRA update (alpha / r) B A
starts from B = 0 and has norm ~ (alpha / r) * lr * sqrt(d * r) * |A row|: much smaller for r << d.
This script measures that ratio on one linear layer of each policy's width, with the project's LoRA
settings (r 16, alpha 32, PEFT's default init) and the same AdamW, fitting a fixed random target; the
learning rate that gives LoRA the full update's size is the full rate divided by the ratio.

    python benchmarks/lora_update_size.py --widths 2048 3072 4096 --steps 8
"""

from __future__ import annotations

import argparse
import json

import torch
from peft import LoraConfig, get_peft_model
from torch import nn


class _One(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def _train(model: nn.Module, x: torch.Tensor, target: torch.Tensor, lr: float, steps: int) -> None:
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), target).backward()
        optimizer.step()


def update_norms(width: int, r: int, alpha: int, lr: float, steps: int, seed: int = 0) -> dict[str, float]:
    """Frobenius norm of the weight change after ``steps`` AdamW steps, full and LoRA."""
    torch.manual_seed(seed)
    base = _One(width)
    x, target = torch.randn(64, width), torch.randn(64, width)
    start = base.proj.weight.detach().clone()
    full = _One(width)
    full.load_state_dict(base.state_dict())
    _train(full, x, target, lr, steps)
    full_norm = float((full.proj.weight.detach() - start).norm())
    lora_model = _One(width)
    lora_model.load_state_dict(base.state_dict())
    lora = get_peft_model(lora_model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=["proj"]))
    _train(lora, x, target, lr, steps)
    merged = lora.merge_and_unload()
    lora_norm = float((merged.proj.weight.detach() - start).norm())
    return {"width": width, "lr": lr, "steps": steps, "full_update_norm": full_norm, "lora_update_norm": lora_norm,
            "lora_over_full": lora_norm / full_norm, "lora_lr_matching_full": lr * full_norm / lora_norm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[2048, 3072, 4096])
    parser.add_argument("--r", type=int, default=16)
    parser.add_argument("--alpha", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-6)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    for width in args.widths:
        print(json.dumps(update_norms(width, args.r, args.alpha, args.lr, args.steps)))


if __name__ == "__main__":
    main()
