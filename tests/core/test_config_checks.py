"""Whole-config checks: numbers written as text, dump lists, references, and every settings section."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from karma.backbone_specs import checked_spec
from karma.config_checks import (
    ConfigError,
    SectionParsers,
    check_workflow_config,
    coerce_numeric_strings,
    configured_dumps,
    stop_on_config_errors,
)
from karma.evaluation.toxicity import ToxicityConfig
from karma.ppo.settings import PolicyTrainingConfig
from karma.reward.settings import RewardTrainingConfig

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
PARSERS = SectionParsers(
    reward_training=RewardTrainingConfig.from_dict,
    policy_training=PolicyTrainingConfig.from_mapping,
    toxicity=ToxicityConfig.from_mapping,
    backbone_spec=checked_spec,
)


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


def merged(config: dict, policy: str) -> dict:
    """What common.smk gives a policy's job (update_config semantics: nested mappings merge)."""
    def merge(base, override):
        for key, value in override.items():
            if isinstance(value, dict):
                merge(base.setdefault(key, {}), value)
            else:
                base[key] = value
        return base
    settings = merge(copy.deepcopy(config["ppo"]), copy.deepcopy(config["policies"][policy]))
    settings.setdefault("ppo", {}).setdefault("seed", config["seed"])
    return settings


def check(config: dict) -> None:
    check_workflow_config(
        config,
        policy_settings={p: merged(config, p) for p in config["policies"]},
        reward_training={"seed": config["seed"], **config["reward"]["training"]},
        parsers=PARSERS,
    )


def problems(config: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        check(config)
    return caught.value.problems


# ---- numbers written as text (YAML 1.1 reads 1e-5 as a string) ---------------------------------


def test_numeric_strings_become_numbers_where_the_schema_wants_one():
    config = load("paper.yaml")
    config["reward"]["training"]["learning_rate"] = "1e-5"
    config["reddit"]["candidate_fraction"] = "5e-2"
    config["reddit"]["max_posts"] = "8e4"          # integer or null
    config["reddit"]["shards"] = "64"
    config["statistics"]["alpha"] = "5E-2"
    coerce_numeric_strings(config, SCHEMA)
    assert config["reward"]["training"]["learning_rate"] == 1e-5
    assert config["reddit"]["candidate_fraction"] == 0.05
    assert config["reddit"]["max_posts"] == 80000 and isinstance(config["reddit"]["max_posts"], int)
    assert config["reddit"]["shards"] == 64
    assert config["statistics"]["alpha"] == 0.05


def test_strings_the_schema_allows_stay_strings():
    config = load("paper.yaml")
    config["run"] = "1e5"                           # a name: a string
    config["benchmarks"]["batch_size"] = "auto"     # integer or the constant "auto"
    coerce_numeric_strings(config, SCHEMA)
    assert config["run"] == "1e5" and config["benchmarks"]["batch_size"] == "auto"


def test_text_in_a_number_key_says_what_to_write():
    config = load("config.yaml")
    config["reward"]["training"]["learning_rate"] = "fast"
    config["reddit"]["shards"] = "2.5"
    with pytest.raises(ConfigError) as caught:
        coerce_numeric_strings(config, SCHEMA)
    assert caught.value.problems == [
        "reddit.shards: must be a whole number, got 2.5",
        "reward.training.learning_rate: 'fast' is not a number; write a number such as 1.0e-5",
    ]


# ---- dump lists --------------------------------------------------------------------------------


def test_dump_names_come_from_file_names_and_globs_expand(tmp_path):
    for name in ("RS_2019-01.zst", "RS_2019-02.zst"):
        (tmp_path / name).touch()
    dumps = configured_dumps("submissions", [f"{tmp_path}/RS_2019-0*.zst", "resources/pushshift/RS_2020-01.zst"])
    assert dumps == {
        "RS_2019-01": f"{tmp_path}/RS_2019-01.zst",
        "RS_2019-02": f"{tmp_path}/RS_2019-02.zst",
        "RS_2020-01": "resources/pushshift/RS_2020-01.zst",
    }


def test_every_dump_problem_is_listed_by_key(tmp_path):
    (tmp_path / "RC_2019 01.zst").touch()           # a glob can match a name unfit for a path
    with pytest.raises(ConfigError) as caught:
        configured_dumps("comments", [
            f"{tmp_path}/RC_nothing*.zst",
            f"{tmp_path}/RC_2019*.zst",
            "a/RS_2019-01.zst",
            "a/RC_2019-02.zst", "b/RC_2019-02.zst",
        ])
    found = caught.value.problems
    assert len(found) == 4 and all(p.startswith("reddit.comments: ") for p in found)
    assert "matches no file" in found[0]
    assert "RC_2019 01.zst" in found[1] and "not a Pushshift dump name" in found[1]
    assert "'RS_2019-01' is not an RC_ (comments) dump" in found[2]
    assert "two dumps share the name 'RC_2019-02'" in found[3]


# ---- references and sections -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_pass(name):
    check(load(name))


def test_unknown_backbone_is_named_not_a_key_error():
    config = load("paper.yaml")
    config["reward"]["backbone"] = "llama-3.2-1B"
    assert problems(config) == [
        "reward.backbone: 'llama-3.2-1B' is not a key of models; known models: falcon-1b, falcon-7b, "
        "llama-3.2-1b, llama-8b, pythia-1b, pythia-6.9b, pythia-70m"
    ]


def test_references_between_sections_are_checked():
    config = load("config.yaml")
    config["models"]["tiny-pythia"]["tokenizer"] = "demo-polcy"
    config["variants"]["benign"]["policies"].append("tiny-gpt")
    config["report"]["paper_policy_map"] = {"tiny-pythya": "Pythia-70M"}
    del config["benchmarks"]["data"]["humor"]
    config["policies"]["tiny-qwen"] = {}
    found = problems(config)
    assert found == [
        "models.tiny-pythia.tokenizer: 'demo-polcy' is not a key of tokenizers; known tokenizers: "
        "demo-policy, demo-reward",
        "policies.tiny-qwen: 'tiny-qwen' is not a key of models; known models: tiny-falcon, tiny-llama, "
        "tiny-llama-rm, tiny-pythia",
        "variants.benign.policies: 'tiny-gpt' is not a key of policies; known policies: tiny-falcon, "
        "tiny-llama, tiny-pythia, tiny-qwen",
        "report.paper_policy_map: 'tiny-pythya' is not a key of policies; known policies: tiny-falcon, "
        "tiny-llama, tiny-pythia, tiny-qwen",
        "benchmarks.data.humor: missing; benchmarks.names runs 'humor', so give its data path",
    ]


def test_same_family_policy_needs_the_opt_in():
    config = load("paper.yaml")
    del config["policies"]["llama-8b"]["same_family_intended"]
    [found] = problems(config)
    assert found.startswith("policies.llama-8b: of the reward model's family ('llama')")


def test_detoxify_scorer_needs_its_files():
    config = load("paper.yaml")
    del config["benchmarks"]["toxicity"]["detoxify_config_dir"]
    assert problems(config) == [
        "benchmarks.toxicity.detoxify_config_dir: missing; the detoxify scorer needs it "
        "(see config/README.md, benchmarks.toxicity)"
    ]


def test_the_karma_reward_needs_its_settings_and_held_out_prompts_not_a_file():
    config = load("config.yaml")
    assert "reward" in config["benchmarks"]["names"] and "reward" not in config["benchmarks"]["data"]
    check(config)  # no data path asked for
    del config["benchmarks"]["reward"], config["prompts"]["heldout"]
    found = problems(config)
    assert [p.split(":")[0] for p in found] == ["benchmarks.reward", "prompts.heldout"]


def test_a_typo_in_the_shared_ppo_section_is_reported_once_under_ppo():
    config = load("paper.yaml")
    config["ppo"]["ppo"]["lerning_rate"] = config["ppo"]["ppo"].pop("learning_rate")
    [found] = problems(config)
    assert found.startswith("ppo.ppo: unknown key(s) 'lerning_rate'; known keys: total_episodes, learning_rate")


def test_every_policy_override_is_checked_merged_over_ppo():
    config = load("paper.yaml")
    config["policies"]["falcon-7b"]["ppo"] = {"lerning_rate": 1e-5}
    config["policies"]["pythia-1b"]["finetuning"] = "lora"
    config["policies"]["pythia-70m"] = {"ppo": {"mini_batch_size": 24}}   # 64 is no multiple of 24
    found = problems(config)
    assert [f.split(":")[0] for f in found] == ["policies.falcon-7b.ppo", "policies.pythia-70m", "policies.pythia-1b"]
    assert "unknown key(s) 'lerning_rate'" in found[0] and found[0].endswith("(its overrides merged over ppo)")
    assert "ppo.batch_size=64 must be a multiple of ppo.mini_batch_size=24" in found[1]
    assert "unknown key(s) 'finetuning'" in found[2]


def test_numbers_as_text_in_open_sections_are_accepted():
    config = load("paper.yaml")
    config["ppo"]["ppo"]["learning_rate"] = "1e-6"
    config["policies"]["falcon-7b"]["ppo"] = {"learning_rate": "1e-5", "total_episodes": "1e5"}
    config["benchmarks"]["toxicity"]["top_p"] = "9e-1"
    check(config)


def test_every_section_is_reported_in_one_error():
    config = load("config.yaml")
    config["reward"]["training"]["warmup_ratio"] = 1.5
    config["benchmarks"]["toxicity"]["max_tokens"] = 20
    config["models"]["tiny-falcon"]["spec"]["hiden_size"] = 64
    config["ppo"]["kl_band"] = {"low": 2.0, "high": 1.0}
    with pytest.raises(ConfigError) as caught:
        check(config)
    found = caught.value.problems
    assert [f.split(":")[0] for f in found] == [
        "reward.training", "benchmarks.toxicity", "models.tiny-falcon.spec", "ppo"
    ]
    assert "'warmup_ratio' must be in [0, 1)" in found[0]
    assert "unknown key(s) 'max_tokens'" in found[1]
    assert "hiden_size" in found[2]
    assert "kl_band needs low < high" in found[3]
    assert str(caught.value).startswith("Config error (4 problems; nothing was run):\n  - reward.training")


def test_entry_points_stop_with_the_list_alone():
    with pytest.raises(SystemExit) as caught, stop_on_config_errors():
        raise ConfigError(["a: wrong", "b: wrong"])
    assert str(caught.value.code) == "Config error (2 problems; nothing was run):\n  - a: wrong\n  - b: wrong"


def test_the_settings_import_no_torch():
    """Snakemake parses the workflow before every job: the config checks must stay light."""
    code = ("import sys, karma.reward.settings, karma.ppo.settings, karma.evaluation.toxicity, "
            "karma.backbone_specs, karma.config_checks, karma.preflight; "
            "print(sorted({'torch', 'transformers', 'trl', 'numpy'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
