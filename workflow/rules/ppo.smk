# The PPO stage: base policies exported as they are, other variants PPO-trained against a reward model.


if PRETRAIN:

    rule pretrain_policy:
        """Demo: warm-start a tiny random-init policy as a language model on the training threads,
        in the text form PPO gives it (karma.demo.pretraining)."""
        input:
            init=f"{RESULTS}/models/{{policy}}/init",
            train=f"{RESULTS}/data/reward/generalized/train.parquet",
            test=f"{RESULTS}/data/reward/generalized/test.parquet",
        output:
            model=directory(f"{RESULTS}/models/{{policy}}/pretrained"),
            report=f"{RESULTS}/models/{{policy}}/pretrain.json",
        log:
            f"{LOGS}/models/{{policy}}/pretrain.log",
        benchmark:
            f"{BENCH}/models/{{policy}}/pretrain.tsv"
        conda:
            "../envs/ppo.yaml"
        threads: 1
        params:
            config=pretrain_params,
            # Outside the outputs: Snakemake deletes a failed job's outputs, checkpoints must survive.
            checkpoints=f"{RESULTS}/models/{{policy}}/pretrain-checkpoints",
        script:
            "../scripts/pretrain_policy.py"


rule export_base_policy:
    input:
        policy=lambda wc: model_dir(wc.policy),
    output:
        model=directory(f"{RESULTS}/policy/{{policy}}/base/model"),
    log:
        f"{LOGS}/policy/{{policy}}/base.log",
    benchmark:
        f"{BENCH}/policy/{{policy}}/base.tsv"
    conda:
        "../envs/ppo.yaml"
    resources:
        mem_mb=export_mem_mb,
        runtime=export_runtime,
    params:
        source=model_source,
    script:
        "../scripts/export_base_policy.py"


rule train_policy:
    input:
        policy=lambda wc: model_dir(wc.policy),
        reward_model=lambda wc: f"{RESULTS}/reward/{variant_reward_model(wc.variant)}/model",
        prompts=lambda wc: prompts_path(wc.variant),
    output:
        model=directory(f"{RESULTS}/policy/{{policy}}/{{variant}}/model"),
        train_log=f"{RESULTS}/policy/{{policy}}/{{variant}}/train_log.jsonl",
        summary=f"{RESULTS}/policy/{{policy}}/{{variant}}/summary.json",
    log:
        f"{LOGS}/policy/{{policy}}/{{variant}}.log",
    benchmark:
        f"{BENCH}/policy/{{policy}}/{{variant}}.tsv"
    wildcard_constraints:
        variant=_alternatives(TRAINED_VARIANTS),
    conda:
        "../envs/ppo.yaml"
    # 1 by default (tiny demo models gain nothing from more); profiles/slurm sets-threads for GPU jobs.
    threads: 1
    resources:
        mem_mb=policy_mem_mb,
        runtime=policy_runtime,
    params:
        setting=lambda wc: VARIANTS[wc.variant]["setting"],
        source=model_source,
        training=policy_training_params,
        families=model_families,
        # Outside the outputs: Snakemake deletes a failed job's outputs, checkpoints must survive.
        checkpoints=f"{RESULTS}/policy/{{policy}}/{{variant}}/checkpoints",
    script:
        "../scripts/train_policy.py"
