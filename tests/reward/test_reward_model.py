import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from karma.backbones import load_tokenizer
from karma.demo.tiny_models import write_tiny_model
from karma.demo.tokenizer_training import train_bpe_tokenizer
from karma.reward.model import (
    KarmaRewardModel,
    RewardScorer,
    encode,
    last_token_index,
    load_reward_model,
    pool_last_token,
    save_reward_model,
)

SPEC = {
    "architecture": "llama",
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "intermediate_size": 32,
    "max_position_embeddings": 128,
}
TEXTS = [
    "<|user|>\nwhat is a good pasta sauce?\n<|assistant|>\ngarlic and butter",
    "<|user|>\nmy cat sat on the mat\n<|assistant|>\nlol",
    "<|user|>\na much longer post about a dog who ate the pasta and then the garlic bread too\n<|assistant|>\nthanks",
]


@pytest.fixture(scope="module")
def backbone_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("rm")
    texts = TEXTS * 20 + [f"post {i} reply {i * 3}" for i in range(50)]
    train_bpe_tokenizer(texts, vocab_size=330).save_pretrained(root / "tok")
    return write_tiny_model(SPEC, root / "tok", root / "backbone", seed=1)


@pytest.fixture(scope="module")
def model_and_tokenizer(backbone_dir):
    model = KarmaRewardModel.from_backbone(backbone_dir, max_input_tokens=64, seed=5).eval()
    return model, load_tokenizer(backbone_dir)


def test_last_token_index_for_left_and_right_padding():
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    left = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]])
    assert last_token_index(right).tolist() == [2, 4, 0]
    assert last_token_index(left).tolist() == [4, 4, 4]
    with pytest.raises(ValueError, match="no tokens"):
        last_token_index(torch.tensor([[1, 1], [0, 0]]))


def test_pooling_picks_the_last_real_tokens_hidden_state():
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0]])
    left = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    assert torch.equal(pool_last_token(hidden, right), torch.stack([hidden[0, 1], hidden[1, 2]]))
    assert torch.equal(pool_last_token(hidden, left), torch.stack([hidden[0, 3], hidden[1, 3]]))


def test_left_and_right_padded_batches_score_like_single_texts(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    right = encode(tokenizer, TEXTS, 64)
    tokenizer.padding_side = "left"
    left = tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert left["attention_mask"][:, 0].tolist() != [1, 1, 1]  # really left-padded
    with torch.no_grad():
        alone = torch.cat([model(**encode(tokenizer, [t], 64)).logits for t in TEXTS])
        from_right = model(**right).logits
        from_left = model(input_ids=left["input_ids"], attention_mask=left["attention_mask"]).logits
    torch.testing.assert_close(from_right, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(from_left, alone, atol=1e-5, rtol=1e-5)
    assert from_right.shape == (3, 1) and len(set(alone.view(-1).tolist())) == 3


def test_forward_loss_is_binary_cross_entropy(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    labels = torch.tensor([1.0, 0.0, 1.0])
    with torch.no_grad():
        out = model(**encode(tokenizer, TEXTS, 64), labels=labels)
    torch.testing.assert_close(
        out.loss, F.binary_cross_entropy_with_logits(out.logits.view(-1), labels)
    )


def test_save_load_round_trip_gives_identical_outputs(model_and_tokenizer, tmp_path):
    model, tokenizer = model_and_tokenizer
    out = save_reward_model(model, tokenizer, tmp_path / "rm")
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "karma_reward" and "auto_map" not in config
    loaded, loaded_tokenizer = load_reward_model(out)
    assert loaded.config.max_input_tokens == 64
    assert set(loaded.state_dict()) == set(model.state_dict())
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    # Weights are bit-identical (above); outputs may differ in the last float bit only, because
    # CPU kernels take different SIMD paths for differently aligned buffers.
    with torch.no_grad():
        batch = encode(tokenizer, TEXTS, 64)
        torch.testing.assert_close(
            loaded.eval()(**batch).logits, model(**batch).logits, rtol=0, atol=1e-7
        )
    in_memory = RewardScorer(model, tokenizer, device="cpu").score(TEXTS)
    from_disk = RewardScorer.from_pretrained(out, device="cpu").score(TEXTS)
    np.testing.assert_allclose(in_memory, from_disk, rtol=0, atol=1e-7)
    assert loaded_tokenizer.get_vocab() == tokenizer.get_vocab()


def test_scorer_keeps_input_order_and_returns_probabilities(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    scorer = RewardScorer(model, tokenizer, device="cpu")
    texts = TEXTS + TEXTS[::-1]
    batched = scorer.score(texts, batch_size=2)
    one_by_one = np.array([scorer.score([t])[0] for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)
    np.testing.assert_allclose(batched, 1 / (1 + np.exp(-scorer.logits(texts))), atol=1e-12)
    assert batched.dtype == np.float64 and np.all((batched > 0) & (batched < 1))
    assert scorer.score([]).shape == (0,)


def test_scoring_truncates_from_the_left(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    long_prefix = "<|user|>\n" + "the cat sat on the mat " * 40 + "\n<|assistant|>\n"
    encoded = encode(tokenizer, [long_prefix + "garlic and butter"], 64)
    assert encoded["input_ids"].shape[1] == 64
    assert tokenizer.decode(encoded["input_ids"][0]).endswith("garlic and butter")


def test_a_causal_lm_object_is_reduced_to_its_backbone_and_round_trips(backbone_dir, tmp_path):
    from karma.backbones import load_causal_lm
    from karma.reward.model import load_reward_model, save_reward_model

    lm = load_causal_lm(backbone_dir)
    model = KarmaRewardModel.from_backbone(lm, seed=1)
    assert model.backbone is lm.base_model
    save_reward_model(model, load_tokenizer(backbone_dir), tmp_path / "rm")
    reloaded, _ = load_reward_model(tmp_path / "rm")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, reloaded.state_dict()[name]), name
