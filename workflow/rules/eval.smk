# The evaluation stage: one JSON file per (policy, variant, benchmark) table cell.


if config["demo"]["enabled"]:

    rule write_benchmark_fixtures:
        output:
            files=BENCHMARK_FILES,
            folders=[directory(path) for path in BENCHMARK_FOLDERS],
        params:
            out_dir=lambda wildcards, output: os.path.commonpath(output),
        log:
            "resources/demo/logs/write_benchmark_fixtures.log",
        conda:
            "../envs/eval.yaml"
        script:
            "../scripts/write_benchmark_fixtures.py"

else:

    rule fetch_benchmark:
        output:
            "resources/benchmarks/{download}",
        wildcard_constraints:
            download=_alternatives(config["benchmarks"].get("downloads", {})),
        params:
            source=lambda wc: config["benchmarks"]["downloads"][wc.download],
        log:
            "resources/logs/fetch_benchmark/{download}.log",
        conda:
            "../envs/eval.yaml"
        script:
            "../scripts/fetch_benchmark.py"

    rule fetch_detoxify:
        """Detoxify's `original` checkpoint and the bert-base-uncased config/tokenizer it builds
        on, so that evaluation jobs score toxicity offline."""
        output:
            checkpoint=config["benchmarks"]["toxicity"].get("detoxify_checkpoint", "resources/detoxify/none"),
            config_dir=directory(
                config["benchmarks"]["toxicity"].get("detoxify_config_dir", "resources/detoxify/none-config")
            ),
        params:
            config_repo="google-bert/bert-base-uncased",
        log:
            "resources/logs/fetch_detoxify.log",
        conda:
            "../envs/eval.yaml"
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
        params:
            run=evaluation_params,
        log:
            f"{LOGS}/eval/{{policy}}/{{variant}}/{{benchmark}}.log",
        benchmark:
            f"{BENCH}/eval/{{policy}}/{{variant}}/{{benchmark}}.tsv"
        # 1 by default (tiny demo models gain nothing from more); profiles/slurm sets-threads for GPU jobs.
        threads: 1
        resources:
            mem_mb=eval_mem_mb,
            runtime=eval_runtime,
        conda:
            "../envs/eval.yaml"
        script:
            "../scripts/evaluate_policy.py"

else:

    rule evaluate_policy:
        input:
            unpack(evaluation_inputs),
        output:
            expand(f"{RESULTS}/eval/{{{{policy}}}}/{{{{variant}}}}/{{benchmark}}.json",
                   benchmark=BENCHMARKS),
        params:
            run=evaluation_params,
        log:
            f"{LOGS}/eval/{{policy}}/{{variant}}.log",
        benchmark:
            f"{BENCH}/eval/{{policy}}/{{variant}}.tsv"
        # 1 by default (tiny demo models gain nothing from more); profiles/slurm sets-threads for GPU jobs.
        threads: 1
        resources:
            mem_mb=eval_mem_mb,
            runtime=eval_runtime,
        conda:
            "../envs/eval.yaml"
        script:
            "../scripts/evaluate_policy.py"
