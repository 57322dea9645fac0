# The reward stage: tokenizers and tiny models (demo) or hub models (paper) -> reward models.


rule train_tokenizer:
    input:
        texts=expand(
            f"{RESULTS}/data/reward/{{setting}}/train.parquet", setting=SETTINGS
        ),
    output:
        directory(f"{RESULTS}/tokenizers/{{tokenizer}}"),
    log:
        f"{LOGS}/tokenizers/{{tokenizer}}.log",
    benchmark:
        f"{BENCH}/tokenizers/{{tokenizer}}.tsv"
    conda:
        "../envs/reward.yaml"
    params:
        cfg=lambda wc: config["tokenizers"][wc.tokenizer],
    script:
        "../scripts/train_tokenizer.py"


rule build_tiny_model:
    input:
        tokenizer=lambda wc: tokenizer_dir(config["models"][wc.model]["tokenizer"]),
    output:
        directory(f"{RESULTS}/models/{{model}}/init"),
    log:
        f"{LOGS}/models/{{model}}/init.log",
    benchmark:
        f"{BENCH}/models/{{model}}/init.tsv"
    conda:
        "../envs/reward.yaml"
    resources:
        mem_mb=tiny_model_mem_mb,
        runtime=10,
    params:
        spec=lambda wc: config["models"][wc.model]["spec"],
        seed=config["seed"],
    script:
        "../scripts/build_tiny_model.py"


rule fetch_model:
    output:
        directory("resources/models/{model}"),
    log:
        "resources/logs/fetch_model/{model}.log",
    benchmark:
        "resources/timings/fetch_model/{model}.tsv"
    conda:
        "../envs/reward.yaml"
    params:
        repo=lambda wc: config["models"][wc.model]["hub"],
        revision=lambda wc: config["models"][wc.model].get("revision"),
    script:
        "../scripts/fetch_model.py"


rule train_reward_model:
    input:
        unpack(reward_training_data),
        backbone=model_dir(config["reward"]["backbone"]),
    output:
        model=directory(f"{RESULTS}/reward/{{reward_model}}/model"),
        metrics=f"{RESULTS}/reward/{{reward_model}}/metrics.json",
    log:
        f"{LOGS}/reward/{{reward_model}}.log",
    benchmark:
        f"{BENCH}/reward/{{reward_model}}.tsv"
    conda:
        "../envs/reward.yaml"
    # 1 by default (tiny demo models gain nothing from more); profiles/slurm sets-threads for GPU jobs.
    threads: 1
    resources:
        mem_mb=reward_mem_mb,
        runtime=reward_runtime,
    params:
        # Checkpoints live beside the outputs, not in them, so a killed job's work survives.
        checkpoints=f"{RESULTS}/reward/{{reward_model}}/checkpoints",
        training=reward_training_params,
    script:
        "../scripts/train_reward_model.py"


localrules:
    fetch_model,
