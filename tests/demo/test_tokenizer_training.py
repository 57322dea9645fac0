import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pandas as pd
import pytest
from transformers import AutoTokenizer

from karma.demo.tokenizer_training import (
    read_texts,
    train_bpe_tokenizer,
    train_tokenizer,
)
from karma.formats import SPECIAL_TAGS, Conversation, render_example

WORDS = "the cat sat on a mat while my dog ate pasta with garlic and butter lol thanks".split()


def corpus(n: int = 200) -> list[str]:
    texts = []
    for i in range(n):
        words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(12)]
        conv = Conversation(
            title=" ".join(words[:5]),
            body=" ".join(words),
            subreddit="cooking",
            created_utc=1546300800 + i,
        )
        texts.append(render_example(conv, " ".join(reversed(words)), "conditioned"))
    return texts


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe_tokenizer(corpus(), vocab_size=400)


def test_tags_and_control_tokens_are_single_tokens(tokenizer):
    for tag in SPECIAL_TAGS:
        assert tokenizer.convert_ids_to_tokens(tokenizer(tag).input_ids) == [
            tokenizer.bos_token,
            tag,
        ]
    ids = {
        tokenizer.bos_token_id,
        tokenizer.eos_token_id,
        tokenizer.pad_token_id,
        tokenizer.unk_token_id,
    }
    assert len(ids) == 4 and None not in ids


def test_user_text_cannot_merge_into_a_tag(tokenizer):
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("a<|user|>b").input_ids)
    assert tokens == [tokenizer.bos_token, "a", "<|user|>", "b"]


def test_saved_tokenizer_loads_offline_and_truncation_keeps_the_end(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    text = corpus(1)[0]
    assert loaded(text).input_ids == tokenizer(text).input_ids
    assert loaded.truncation_side == "left"
    full = loaded(text).input_ids
    cut = loaded(text, truncation=True, max_length=10).input_ids
    assert len(full) > 10
    assert cut == [loaded.bos_token_id] + full[-9:]
    assert loaded.decode(full, skip_special_tokens=False).startswith(loaded.bos_token + "<|meta|>")


def test_training_is_deterministic():
    first = train_bpe_tokenizer(corpus(), vocab_size=400).backend_tokenizer.to_str()
    second = train_bpe_tokenizer(corpus(), vocab_size=400).backend_tokenizer.to_str()
    assert first == second


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="corpus is empty"):
        train_bpe_tokenizer([], vocab_size=400)
    with pytest.raises(ValueError, match="too small"):
        train_bpe_tokenizer(corpus(), vocab_size=100)
    with pytest.raises(TypeError, match="not str"):
        train_bpe_tokenizer(["fine", None], vocab_size=400)


def test_train_tokenizer_reads_the_text_column_of_parquet(tmp_path):
    texts = corpus(50)
    pd.DataFrame({"text": texts[:30], "label": 1}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"text": texts[30:], "label": 0}).to_parquet(tmp_path / "b.parquet")
    assert list(read_texts([tmp_path / "a.parquet", tmp_path / "b.parquet"])) == texts
    out = train_tokenizer(
        [tmp_path / "a.parquet", tmp_path / "b.parquet"], tmp_path / "tok", vocab_size=400
    )
    loaded = AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert loaded.pad_token == "<|pad|>"
    pd.DataFrame({"body": ["x"]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="no column 'text'"):
        list(read_texts([tmp_path / "bad.parquet"]))
