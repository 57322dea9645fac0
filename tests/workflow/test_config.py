"""Both shipped configs validate; a wrong or missing key stops the run with a message naming it."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_validate(name):
    validate(load(name), SCHEMA)


def test_missing_key_is_named():
    config = load("config.yaml")
    del config["label"]["ratio"]
    with pytest.raises(WorkflowError, match="ratio"):
        validate(config, SCHEMA)


def test_unknown_key_is_named():
    config = copy.deepcopy(load("config.yaml"))
    config["reddit"]["max_post"] = 3
    with pytest.raises(WorkflowError, match="max_post"):
        validate(config, SCHEMA)


def test_a_hub_model_needs_its_size():
    """Without params_b, a 7B model's jobs would be sized like a tiny demo model's."""
    config = copy.deepcopy(load("paper.yaml"))
    del config["models"]["falcon-7b"]["params_b"]
    with pytest.raises(WorkflowError, match="params_b"):
        validate(config, SCHEMA)


@pytest.mark.parametrize("fraction", [0, 1.5, "half"])
def test_candidate_fraction_must_be_a_share(fraction):
    config = copy.deepcopy(load("config.yaml"))
    config["reddit"]["candidate_fraction"] = fraction
    with pytest.raises(WorkflowError, match="candidate_fraction"):
        validate(config, SCHEMA)


def test_snakemake_stops_on_a_typo(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("split:\n  test_fraktion: 0.2\n")
    result = subprocess.run([SNAKEMAKE, "-n", "--configfile", "config/config.yaml", str(bad)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "test_fraktion" in result.stdout + result.stderr


def test_paper_dry_run_needs_no_dumps_or_network():
    result = subprocess.run([SNAKEMAKE, "-n", "--configfile", "config/paper.yaml"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "pushshift_dump" in out and "collect_comments" in out and "build_examples" in out


HOSTILE_NAMES = ["..", ".", "../../../../tmp/x", "a/b", "/abs", "", "x y", "{wildcard}"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("where", ["run", "models", "tokenizers", "policies", "variants", "downloads"])
def test_names_that_become_paths_are_constrained(where, name):
    """Issue 14 defect 6: no name may lead outside results/ or resources/."""
    config = copy.deepcopy(load("paper.yaml"))
    if where == "run":
        config["run"] = name
    elif where == "downloads":
        config["benchmarks"]["downloads"][name] = {"repo": "a/b", "file": "x.csv"}
    else:
        section = config[where]
        section[name] = copy.deepcopy(next(iter(section.values()), {"vocab_size": 300}))
    with pytest.raises(WorkflowError):
        validate(config, SCHEMA)


@pytest.mark.parametrize("name", ["../x", "a/b"])
def test_names_that_refer_to_other_sections_are_constrained(name):
    for edit in (
        lambda c: c["reward"].update(backbone=name),
        lambda c: c["variants"]["base"]["policies"].append(name),
        lambda c: c["models"]["tiny-pythia"].update(tokenizer=name),
    ):
        config = copy.deepcopy(load("config.yaml"))
        edit(config)
        with pytest.raises(WorkflowError):
            validate(config, SCHEMA)


@pytest.mark.parametrize("entry", ["resources/RS_{x}.zst", "resources/RS_a b.zst", "RS_../x.zst"])
def test_dump_file_names_must_be_safe_job_names(entry):
    config = copy.deepcopy(load("paper.yaml"))
    config["reddit"]["submissions"] = [entry]
    with pytest.raises(WorkflowError):
        validate(config, SCHEMA)


def test_safe_names_pass():
    config = copy.deepcopy(load("paper.yaml"))
    config["run"] = "paper-v2.1_rerun"
    config["reddit"]["submissions"] = ["/data/dumps/RS_2023-0*.zst"]
    validate(config, SCHEMA)


def test_metric_enums_are_the_registered_candidates():
    """The schema lists, per benchmark, exactly the per-item scores the evaluation writes."""
    from karma.evaluation.benchmark_metrics import BENCHMARKS, score_names

    schema = yaml.safe_load(Path(SCHEMA).read_text())
    metrics = schema["properties"]["benchmarks"]["properties"]["metrics"]["properties"]
    assert {name: metrics[name]["enum"] for name in metrics} == {b: list(score_names(b)) for b in BENCHMARKS}


def test_a_metric_that_is_not_a_per_item_score_is_refused():
    config = copy.deepcopy(load("paper.yaml"))
    config["benchmarks"]["metrics"]["sycophancy"] = "mc2"
    with pytest.raises(WorkflowError, match="mc2"):
        validate(config, SCHEMA)


def test_a_metric_outside_the_registry_stops_the_plan_before_the_dag(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("benchmarks:\n  metrics: {truthfulqa: f1}\n")
    result = subprocess.run([SNAKEMAKE, "-n", "--configfile", "config/config.yaml", str(bad)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "f1" in result.stdout + result.stderr


# The published configs of the Falcon3 base models (config.json on the hub; public, not fetched here).
FALCON3 = {
    "tiiuae/Falcon3-1B-Base": {"hidden_size": 2048, "intermediate_size": 8192, "num_attention_heads": 8,
                               "num_hidden_layers": 18, "max_position_embeddings": 4096},
    "tiiuae/Falcon3-7B-Base": {"hidden_size": 3072, "intermediate_size": 23040, "num_attention_heads": 12,
                               "num_hidden_layers": 28, "max_position_embeddings": 32768},
}
FALCON3_COMMON = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "head_dim": 256,
                  "num_key_value_heads": 4, "rope_theta": 1000042, "rope_scaling": None, "eos_token_id": 11,
                  "tie_word_embeddings": False, "vocab_size": 131072, "rms_norm_eps": 1e-6, "activation": "swiglu"}


def test_paper_falcon_policies_are_falcon3_with_their_sizes():
    """The hub config parses under the pinned transformers (rope_theta moved into rope_parameters in
    v5) and its parameter count is the params_b that sizes the cluster jobs."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    models = load("paper.yaml")["models"]
    for name in ("falcon-1b", "falcon-7b"):
        entry = models[name]
        assert entry["family"] == "falcon" and entry["hub"] in FALCON3
        config = LlamaConfig.from_dict({**FALCON3_COMMON, **FALCON3[entry["hub"]]})
        assert config.rope_parameters["rope_theta"] == 1000042 and config.head_dim == 256
        with torch.device("meta"):
            params = sum(p.numel() for p in AutoModelForCausalLM.from_config(config).parameters())
        assert params / 1e9 == pytest.approx(entry["params_b"], abs=0.01), name


def test_paper_lora_policies_get_their_own_learning_rate():
    config = load("paper.yaml")
    for policy, overrides in config["policies"].items():
        lora = overrides.get("finetune", config["ppo"].get("finetune")) == "lora"
        rate = overrides.get("ppo", {}).get("learning_rate", config["ppo"]["ppo"]["learning_rate"])
        assert rate == (1.0e-5 if lora else 1.0e-6), policy
    assert {p for p, o in config["policies"].items() if o.get("finetune") == "lora"} == {
        "falcon-7b", "llama-8b", "pythia-6.9b"}


def test_eroded_reads_prompts_with_sampled_metadata_and_generalized_variants_cannot(tmp_path):
    plan = subprocess.run([SNAKEMAKE, "-n", "--configfile", "config/paper.yaml"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "results/paper/data/prompts/ultrachat.sampled_metadata.parquet" in plan.stdout
    config = copy.deepcopy(load("config.yaml"))
    config["variants"]["benign"]["metadata"] = "sampled"
    validate(config, SCHEMA)  # the schema allows the key on any trained variant; common.smk refuses it
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"variants": config["variants"]}))
    result = subprocess.run([SNAKEMAKE, "-n", "--configfile", "config/config.yaml", str(bad)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "variant 'benign' sets metadata: sampled, but its setting 'generalized'" in result.stdout + result.stderr
