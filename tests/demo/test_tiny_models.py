"""Demo backbones come with a model card that says they are random and tiny, and with provenance."""

import json

from karma.demo.tiny_models import write_tiny_model
from karma.demo.tokenizer_training import train_bpe_tokenizer

SPEC = {"architecture": "gpt_neox", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 32, "max_position_embeddings": 64}


def test_tiny_model_has_card_and_provenance(tmp_path):
    train_bpe_tokenizer(["a tiny corpus of words"] * 5, vocab_size=270).save_pretrained(tmp_path / "tok")
    out = write_tiny_model(SPEC, tmp_path / "tok", tmp_path / "tiny-pythia", seed=4,
                           run_config={"run": "demo", "seed": 4})
    card = (out / "README.md").read_text()
    assert "# tiny-pythia (demo backbone)" in card and "seed 4" in card
    assert "random" in card and '"architecture": "gpt_neox"' in card and "## Provenance" in card
    n_params = int(card.split(" causal LM (")[1].split(" parameters")[0].replace(",", ""))
    assert 1000 < n_params < 100_000
    assert json.loads((out / "provenance.json").read_text())["config"] == {"run": "demo", "seed": 4}
