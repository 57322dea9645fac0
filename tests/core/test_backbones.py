import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
import torch

from karma.backbones import (
    VocabInfo,
    build_causal_lm,
    causal_lm_config,
    load_backbone,
    load_causal_lm,
    load_tokenizer,
    pick_device,
)
from karma.demo.tiny_models import write_tiny_model
from karma.demo.tokenizer_training import train_bpe_tokenizer

SPECS = {
    "llama": {
        "architecture": "llama",
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "intermediate_size": 32,
        "max_position_embeddings": 64,
    },
    "gpt_neox": {
        "architecture": "gpt_neox",
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "max_position_embeddings": 64,
    },
    "falcon": {
        "architecture": "falcon",
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "max_position_embeddings": 64,
    },
}


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    texts = [
        f"<|user|>\npost number {i} about cats\n<|assistant|>\nreply {i % 7} lol"
        for i in range(100)
    ]
    out = tmp_path_factory.mktemp("tok")
    train_bpe_tokenizer(texts, vocab_size=320).save_pretrained(out)
    return out


@pytest.mark.parametrize("architecture", sorted(SPECS))
def test_tiny_model_round_trip(architecture, tokenizer_dir, tmp_path):
    tokenizer = load_tokenizer(tokenizer_dir)
    out = write_tiny_model(SPECS[architecture], tokenizer_dir, tmp_path / "model", seed=3)
    assert (out / "model.safetensors").is_file()
    assert not list(out.glob("*.bin"))
    model = load_causal_lm(out).eval()
    assert model.config.model_type == architecture
    assert model.config.vocab_size == len(tokenizer)
    assert (model.config.bos_token_id, model.config.eos_token_id, model.config.pad_token_id) == (
        tokenizer.bos_token_id,
        tokenizer.eos_token_id,
        tokenizer.pad_token_id,
    )
    batch = tokenizer(["<|user|>\npost number 3", "reply 2 lol"], padding=True, return_tensors="pt")
    rebuilt = build_causal_lm(SPECS[architecture], tokenizer, seed=3).eval()
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, rebuilt(**batch).logits)
        hidden = load_backbone(out)(**batch).last_hidden_state
    assert hidden.shape == (2, batch["input_ids"].shape[1], 16)
    assert (out / "tokenizer.json").is_file()


def test_seed_changes_weights(tokenizer_dir):
    tokenizer = load_tokenizer(tokenizer_dir)
    a = build_causal_lm(SPECS["llama"], tokenizer, seed=0).state_dict()
    b = build_causal_lm(SPECS["llama"], tokenizer, seed=1).state_dict()
    assert not torch.equal(a["model.embed_tokens.weight"], b["model.embed_tokens.weight"])


def test_bad_specs_are_rejected_by_name():
    vocab = VocabInfo(vocab_size=300, bos_token_id=0, eos_token_id=1, pad_token_id=2)
    with pytest.raises(ValueError, match="hiden_size"):
        causal_lm_config({"architecture": "llama", "hiden_size": 16}, vocab)
    with pytest.raises(ValueError, match="one of llama, gpt_neox, falcon"):
        causal_lm_config({"architecture": "mamba"}, vocab)
    with pytest.raises(ValueError, match="vocab_size"):
        causal_lm_config({"architecture": "llama", "vocab_size": 10}, vocab)


def test_missing_model_dir_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_causal_lm(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_tokenizer(tmp_path / "absent")


def test_auto_device_is_a_concrete_torch_device(monkeypatch):
    """The configs' ``device: auto`` must reach torch as cpu or cuda: ``.to("auto")`` raises."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")
    assert pick_device("cpu") == torch.device("cpu")
