"""The rehearsal's local hub: stand-ins with the real repositories' conventions, fetched by hub_fetch."""

import contextlib
import json
import os
import re

os.environ["HF_HUB_OFFLINE"] = "1"

import pyarrow.parquet as pq
import pytest
from safetensors import safe_open
from transformers import AutoConfig, AutoTokenizer

from karma.demo.hub_datasets import HubDatasets
from karma.demo.hub_models import write_model_repository
from karma.demo.rehearsal import LocalHub, dump_months
from karma.hub_fetch import HubPinError, fetch_benchmark_source, fetch_model

TEXTS = [f"the cat number {i} sat on a mat and looked at {i * 7} birds, twice" for i in range(300)]
LLAMA = "meta-llama/Llama-3.2-1B"
PYTHIA = "EleutherAI/pythia-70m"
FALCON = "tiiuae/Falcon3-1B-Base"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    for seed, repo in enumerate([LLAMA, PYTHIA, FALCON]):
        write_model_repository(repo, TEXTS, root / "models" / repo, seed=seed)
    return LocalHub(root / "models", HubDatasets(root / "datasets", seed=0, n_ultrachat=20), {})


@pytest.fixture(scope="module")
def fetched(hub, tmp_path_factory):
    out = tmp_path_factory.mktemp("fetched")
    with contextlib.chdir(out):  # the lock file is resources/hub.lock.json under the working directory
        for name, repo in {"llama": LLAMA, "pythia": PYTHIA, "falcon": FALCON}.items():
            fetch_model(repo, out / name, "0" * 40 if name == "llama" else None, hub=hub)
    return out


def stored_dtypes(model_dir):
    with safe_open(str(model_dir / "model.safetensors"), "pt") as handle:
        return {str(handle.get_slice(key).get_dtype()) for key in handle.keys()}  # noqa: SIM118


def test_llama3_tokenizer_as_on_the_hub(fetched):
    tokenizer = AutoTokenizer.from_pretrained(fetched / "llama", local_files_only=True)
    assert tokenizer.pad_token is None
    assert (tokenizer.bos_token, tokenizer.eos_token) == ("<|begin_of_text|>", "<|end_of_text|>")
    assert tokenizer("the cat")["input_ids"][0] == tokenizer.bos_token_id
    # 256 special tokens after the regular vocabulary, the first of them bos
    assert len(tokenizer) - tokenizer.bos_token_id == 256
    config = AutoConfig.from_pretrained(fetched / "llama", local_files_only=True)
    assert config.model_type == "llama" and config.num_key_value_heads < config.num_attention_heads
    assert config.tie_word_embeddings and config.rope_scaling["rope_type"] == "llama3"
    assert stored_dtypes(fetched / "llama") == {"BF16"}


def test_pythia_tokenizer_and_padded_embeddings(fetched):
    assert "pad_token" not in json.loads((fetched / "pythia" / "special_tokens_map.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(fetched / "pythia", local_files_only=True)
    # transformers 5's GPTNeoXTokenizer fills the pad the files leave out with the unused <|padding|>
    assert (tokenizer.pad_token, tokenizer.pad_token_id) == ("<|padding|>", 1)
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|padding|>"]) == [0, 1]
    assert tokenizer.bos_token_id == tokenizer.eos_token_id == 0
    assert tokenizer("the cat")["input_ids"][0] != tokenizer.bos_token_id  # no bos added
    config = AutoConfig.from_pretrained(fetched / "pythia", local_files_only=True)
    assert config.model_type == "gpt_neox" and config.vocab_size % 128 == 0 and config.vocab_size > len(tokenizer)
    assert stored_dtypes(fetched / "pythia") == {"F16"}


def test_falcon3_has_its_own_pad_and_eos_at_11(fetched):
    tokenizer = AutoTokenizer.from_pretrained(fetched / "falcon", local_files_only=True)
    assert tokenizer.pad_token == "<|pad|>" and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert (tokenizer.eos_token, tokenizer.eos_token_id) == ("<|endoftext|>", 11)
    assert AutoConfig.from_pretrained(fetched / "falcon", local_files_only=True).model_type == "llama"


def test_fetch_model_takes_what_a_hub_fetch_takes(fetched):
    files = {path.relative_to(fetched / "llama").as_posix() for path in (fetched / "llama").rglob("*")
             if path.is_file() and ".cache" not in path.parts}
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "LICENSE.txt",
            "original/params.json", "generation_config.json", ".hub-source.json"} <= files
    assert not {"pytorch_model.bin", "README.md", ".gitattributes"} & files
    assert json.loads((fetched / "llama" / ".hub-source.json").read_text())["revision"] == "0" * 40


def test_unpinned_fetches_are_locked_and_a_changed_pin_is_refused(hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fetch_model(PYTHIA, tmp_path / "a", None, hub=hub)
    locked = json.loads((tmp_path / "resources" / "hub.lock.json").read_text())[f"model:{PYTHIA}"]
    assert re.fullmatch(r"[0-9a-f]{40}", locked)
    assert json.loads((tmp_path / "a" / ".hub-source.json").read_text())["revision"] == locked
    with pytest.raises(HubPinError):
        fetch_model(PYTHIA, tmp_path / "b", "1" * 40, hub=hub)


def test_split_sources_are_written_as_the_hub_features(hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fetch_benchmark_source({"repo": "cais/mmlu", "config": "all", "split": "test", "revision": "2" * 40},
                           tmp_path / "mmlu.parquet", hub=hub)
    table = pq.read_table(tmp_path / "mmlu.parquet")
    assert set(table.column_names) == {"question", "subject", "choices", "answer"}
    assert set(table.column("answer").to_pylist()) <= {0, 1, 2, 3}
    assert json.loads((tmp_path / "mmlu.parquet.hub-source.json").read_text())["revision"] == "2" * 40
    with pytest.raises(ValueError, match="no config"):
        fetch_benchmark_source({"repo": "cais/mmlu", "config": "abstract_algebra", "split": "test",
                                "revision": "2" * 40}, tmp_path / "x.parquet", hub=hub)


def test_dump_months_need_one_folder_of_monthly_names():
    config = {"reddit": {"submissions": ["d/RS_2023-01.zst"], "comments": ["d/RC_2023-02.zst"]}}
    assert dump_months(config)[1] == ["2023-01", "2023-02"]
    config["reddit"]["comments"] = ["elsewhere/RC_2023-02.zst"]
    with pytest.raises(ValueError, match="one folder"):
        dump_months(config)
