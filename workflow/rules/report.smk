# Statistics, the paper's tables and figures, and the HTML report (`snakemake --report`).


rule tables:
    input:
        cells=eval_targets(),
        reward=reward_targets(),
        ppo_summaries=ppo_summary_targets(),
    output:
        [
            report(path, caption=report_caption(path), category="Tables")
            for path in table_outputs()
        ],
    log:
        f"{LOGS}/report/tables.log",
    benchmark:
        f"{BENCH}/report/tables.tsv"
    conda:
        "../envs/report.yaml"
    params:
        statistics=config["statistics"],
        settings=REWARD_MODELS,
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
        [
            report(path, caption=report_caption(path), category="Figures")
            for path in figure_outputs()
            if path.endswith(".png")
        ],
        [path for path in figure_outputs() if path.endswith(".svg")],
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
