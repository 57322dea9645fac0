# The evaluation stage: one JSON file per (policy, variant, benchmark) table cell.


if config["demo"]["enabled"]:

    rule write_benchmark_fixtures:
        output:
            files=BENCHMARK_FILES,
            folders=[directory(path) for path in BENCHMARK_FOLDERS],
        log:
            "resources/demo/logs/write_benchmark_fixtures.log",
        benchmark:
            "resources/demo/timings/write_benchmark_fixtures.tsv"
        conda:
            "../envs/eval.yaml"
        params:
            out_dir=lambda wildcards, output: os.path.commonpath(output),
        script:
            "../scripts/write_benchmark_fixtures.py"

else:

    rule fetch_benchmark:
        output:
            "resources/benchmarks/{download}",
        log:
            "resources/logs/fetch_benchmark/{download}.log",
        benchmark:
            "resources/timings/fetch_benchmark/{download}.tsv"
        wildcard_constraints:
            download=_alternatives(config["benchmarks"].get("downloads", {})),
        conda:
            "../envs/eval.yaml"
        params:
            source=lambda wc: config["benchmarks"]["downloads"][wc.download],
        script:
            "../scripts/fetch_benchmark.py"

    rule fetch_detoxify:
        """Detoxify's `original` checkpoint and the bert-base-uncased config/tokenizer it builds
        on, so that evaluation jobs score toxicity offline."""
        output:
            checkpoint=config["benchmarks"]["toxicity"].get(
                "detoxify_checkpoint", "resources/detoxify/none"
            ),
            config_dir=directory(
                config["benchmarks"]["toxicity"].get(
                    "detoxify_config_dir", "resources/detoxify/none-config"
                )
            ),
        log:
            "resources/logs/fetch_detoxify.log",
        benchmark:
            "resources/timings/fetch_detoxify.tsv"
        conda:
            "../envs/eval.yaml"
        params:
            config_repo=DETOXIFY_CONFIG_REPO,
            config_revision=config["benchmarks"]["toxicity"].get(
                "detoxify_config_revision"
            ),
            sha256=config["benchmarks"]["toxicity"].get("detoxify_sha256"),
        script:
            "../scripts/fetch_detoxify.py"

    localrules:
        fetch_benchmark,
        fetch_detoxify,


# Either one job per policy x variant (the demo: one start-up for seven cells) or one job per cell
# (the paper: each cell its own GPU job); both write the same files.
if config["benchmarks"]["job_per"] == "cell":

    rule evaluate_cell:
        input:
            unpack(evaluation_inputs),
        output:
            f"{RESULTS}/eval/{{policy}}/{{variant}}/{{benchmark}}.json",
        log:
            f"{LOGS}/eval/{{policy}}/{{variant}}/{{benchmark}}.log",
        benchmark:
            f"{BENCH}/eval/{{policy}}/{{variant}}/{{benchmark}}.tsv"
        conda:
            "../envs/eval.yaml"
        # 1 by default (tiny demo models gain nothing from more); profiles/slurm sets-threads for GPU jobs.
        threads: 1
        resources:
            mem_mb=eval_mem_mb,
            runtime=eval_runtime,
        params:
            run=evaluation_params,
        script:
            "../scripts/evaluate_policy.py"

else:

    rule evaluate_policy:
        input:
            unpack(evaluation_inputs),
        output:
            expand(
                f"{RESULTS}/eval/{{{{policy}}}}/{{{{variant}}}}/{{benchmark}}.json",
                benchmark=BENCHMARKS,
            ),
        log:
            f"{LOGS}/eval/{{policy}}/{{variant}}.log",
        benchmark:
            f"{BENCH}/eval/{{policy}}/{{variant}}.tsv"
        conda:
            "../envs/eval.yaml"
        # 1 by default (tiny demo models gain nothing from more); profiles/slurm sets-threads for GPU jobs.
        threads: 1
        resources:
            mem_mb=eval_mem_mb,
            runtime=eval_runtime,
        params:
            run=evaluation_params,
        script:
            "../scripts/evaluate_policy.py"


rule evaluate_reward:
    """The karma reward of the policy's replies to held-out prompts (karma.evaluation.karma_reward)."""
    input:
        model=lambda wc: policy_model(wc.policy, wc.variant),
        prompts=f"{RESULTS}/data/prompts/heldout.parquet",
        generalized=f"{RESULTS}/reward/generalized/model",
        conditioned=f"{RESULTS}/reward/conditioned/model",
    output:
        f"{RESULTS}/eval/{{policy}}/{{variant}}/{KARMA_REWARD}.json",
    log:
        f"{LOGS}/eval/{{policy}}/{{variant}}/{KARMA_REWARD}.log",
    benchmark:
        f"{BENCH}/eval/{{policy}}/{{variant}}/{KARMA_REWARD}.tsv"
    conda:
        "../envs/eval.yaml"
    # 1 by default (tiny demo models gain nothing from more); profiles/slurm sets-threads for GPU jobs.
    threads: 1
    resources:
        mem_mb=eval_mem_mb,
        runtime=reward_eval_runtime,
    params:
        config=reward_benchmark_params,
    script:
        "../scripts/evaluate_reward.py"
