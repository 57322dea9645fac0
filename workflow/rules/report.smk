# Statistics, the paper's tables and figures, and the HTML report (`snakemake --report`).


rule tables:
    input:
        cells=eval_targets(),
        reward=reward_targets(),
        ppo_summaries=ppo_summary_targets(),
        threads_manifest=f"{RESULTS}/data/threads/manifest.json",
        example_stats=example_stats_targets(),
    output:
        reported(table_outputs()),
    log:
        f"{LOGS}/report/tables.log",
    benchmark:
        f"{BENCH}/report/tables.tsv"
    conda:
        "../envs/report.yaml"
    params:
        statistics=config["statistics"],
        settings=REWARD_MODELS,
        example_settings=SETTINGS,
        policy_order=POLICIES,
        paper_policy_map=config["report"]["paper_policy_map"],
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    script:
        "../scripts/write_tables.py"


rule figures:
    input:
        cells=eval_targets(),
        reward=reward_targets(),
        train_logs=train_log_targets(),
    output:
        reported(figure_outputs()),
    log:
        f"{LOGS}/report/figures.log",
    benchmark:
        f"{BENCH}/report/figures.tsv"
    conda:
        "../envs/report.yaml"
    params:
        statistics=config["statistics"],
        settings=REWARD_MODELS,
        policy_order=POLICIES,
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    script:
        "../scripts/write_figures.py"
