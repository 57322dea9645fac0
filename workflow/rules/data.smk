# The data stage: dumps -> posts and comments per dump -> threads -> examples and prompts.


if config["demo"]["enabled"]:

    rule generate_demo_pushshift:
        output:
            DEMO_OUTPUTS,
        log:
            "resources/demo/logs/generate_demo_pushshift.log",
        benchmark:
            "resources/demo/timings/generate_demo_pushshift.tsv"
        conda:
            "../envs/data.yaml"
        params:
            out_dir=lambda wildcards, output: os.path.dirname(output[0]),
            seed=config["seed"],
            n_posts=config["demo"]["n_posts"],
            months=config["demo"]["months"],
        script:
            "../scripts/generate_demo_pushshift.py"

    rule generate_demo_ultrachat:
        output:
            config["prompts"]["ultrachat"]["source"],
        log:
            "resources/demo/logs/generate_demo_ultrachat.log",
        benchmark:
            "resources/demo/timings/generate_demo_ultrachat.tsv"
        conda:
            "../envs/data.yaml"
        params:
            seed=config["seed"],
            n_prompts=config["demo"]["n_ultrachat"],
        script:
            "../scripts/generate_demo_ultrachat.py"

else:

    localrules:
        fetch_ultrachat,

    rule fetch_ultrachat:
        output:
            config["prompts"]["ultrachat"]["source"],
        log:
            "resources/logs/fetch_ultrachat.log",
        benchmark:
            "resources/timings/fetch_ultrachat.tsv"
        conda:
            "../envs/data.yaml"
        params:
            repo=ULTRACHAT_REPO,
            split="train_sft",
            revision=config["prompts"]["ultrachat"].get("revision"),
        script:
            "../scripts/fetch_ultrachat.py"


rule pushshift_dump:
    """Dumps are not downloadable by a script. This rule lets `snakemake -n` plan the whole DAG
    without them; a real run stops in the preflight (preflight.smk) before it could run, and should
    it run anyway, it fails at once, with instructions, and is not retried (no work, so no
    benchmark: file)."""
    output:
        "resources/pushshift/{dump}",
    log:
        "resources/logs/pushshift_dump/{dump}.log",
    wildcard_constraints:
        dump=r"R[SC]_[^/]+",
    retries: 0
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/missing_pushshift_dump.py"


rule verify_dump:
    """Hash a dump once against its reddit.sha256 entry; the jobs reading it wait for the record."""
    input:
        lambda wc: {**SUBMISSION_DUMPS, **COMMENT_DUMPS}[wc.dump],
    output:
        "resources/checksums/{dump}.sha256.json",
    log:
        "resources/logs/verify_dump/{dump}.log",
    benchmark:
        "resources/benchmarks/verify_dump/{dump}.tsv"
    wildcard_constraints:
        dump=_alternatives(DUMP_SHA256) or "$^",
    conda:
        "../envs/data.yaml"
    params:
        sha256=lambda wc: DUMP_SHA256[wc.dump],
    script:
        "../scripts/verify_dump.py"


rule select_posts:
    input:
        dump=lambda wc: SUBMISSION_DUMPS[wc.submissions_dump],
        verified=lambda wc: dump_verification(wc.submissions_dump),
    output:
        posts=f"{RESULTS}/data/posts/{{submissions_dump}}.parquet",
        counts=f"{RESULTS}/data/posts/{{submissions_dump}}.counts.json",
    log:
        f"{LOGS}/data/select_posts/{{submissions_dump}}.log",
    benchmark:
        f"{BENCH}/data/select_posts/{{submissions_dump}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        filters=config["reddit"]["filters"],
        seed=config["seed"],
        candidate_fraction=config["reddit"]["candidate_fraction"],
    script:
        "../scripts/select_posts.py"


rule collect_comments:
    input:
        dump=lambda wc: COMMENT_DUMPS[wc.comments_dump],
        verified=lambda wc: dump_verification(wc.comments_dump),
        posts=post_files(),
    output:
        comments=f"{RESULTS}/data/comments/{{comments_dump}}.parquet",
        counts=f"{RESULTS}/data/comments/{{comments_dump}}.counts.json",
    log:
        f"{LOGS}/data/collect_comments/{{comments_dump}}.log",
    benchmark:
        f"{BENCH}/data/collect_comments/{{comments_dump}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        filters=config["reddit"]["filters"],
    script:
        "../scripts/collect_comments.py"


rule build_threads:
    input:
        posts=post_files(),
        post_counts=post_counts(),
        comments=comment_files(),
        comment_counts=comment_counts(),
    output:
        shards=shard_paths(),
        manifest=f"{RESULTS}/data/threads/manifest.json",
    log:
        f"{LOGS}/data/build_threads.log",
    benchmark:
        f"{BENCH}/data/build_threads.tsv"
    conda:
        "../envs/data.yaml"
    params:
        filters=config["reddit"]["filters"],
        max_posts=config["reddit"]["max_posts"],
        seed=config["seed"],
        max_parents=config["context"]["max_parents"],
        max_siblings=config["context"]["max_siblings"],
        candidate_fraction=config["reddit"]["candidate_fraction"],
    script:
        "../scripts/build_threads.py"


rule build_examples:
    input:
        shards=shard_paths(),
    output:
        train=f"{RESULTS}/data/reward/{{setting}}/train.parquet",
        test=f"{RESULTS}/data/reward/{{setting}}/test.parquet",
        stats=f"{RESULTS}/data/reward/{{setting}}/stats.json",
    log:
        f"{LOGS}/data/build_examples/{{setting}}.log",
    benchmark:
        f"{BENCH}/data/build_examples/{{setting}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        label=config["label"],
        seed=config["seed"],
        test_fraction=config["split"]["test_fraction"],
        max_turn_chars=config["context"]["max_turn_chars"],
    script:
        "../scripts/build_examples.py"


rule permute_labels:
    """The negative control's reward training split: labels permuted within the training split."""
    input:
        f"{RESULTS}/data/reward/{{setting}}/train.parquet",
    output:
        f"{RESULTS}/data/reward/{{setting}}/train_permuted.parquet",
    log:
        f"{LOGS}/data/permute_labels/{{setting}}.log",
    benchmark:
        f"{BENCH}/data/permute_labels/{{setting}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        seed=config["seed"],
    script:
        "../scripts/permute_labels.py"


rule build_reddit_prompts:
    input:
        shards=shard_paths(),
    output:
        f"{RESULTS}/data/prompts/reddit.parquet",
    log:
        f"{LOGS}/data/build_prompts/reddit.log",
    benchmark:
        f"{BENCH}/data/build_prompts/reddit.tsv"
    conda:
        "../envs/data.yaml"
    params:
        seed=config["seed"],
        test_fraction=config["split"]["test_fraction"],
        max_prompts=config["prompts"]["reddit"]["max_prompts"],
        max_turn_chars=config["context"]["max_turn_chars"],
    script:
        "../scripts/build_reddit_prompts.py"


rule build_ultrachat_prompts:
    input:
        config["prompts"]["ultrachat"]["source"],
    output:
        f"{RESULTS}/data/prompts/ultrachat.parquet",
    log:
        f"{LOGS}/data/build_prompts/ultrachat.log",
    benchmark:
        f"{BENCH}/data/build_prompts/ultrachat.tsv"
    conda:
        "../envs/data.yaml"
    params:
        seed=config["seed"],
        max_prompts=config["prompts"]["ultrachat"]["max_prompts"],
        mode=config["prompts"]["ultrachat"]["mode"],
        max_turn_chars=config["context"]["max_turn_chars"],
        heldout_fraction=config["prompts"]["ultrachat"].get("heldout_fraction", 0.0),
    script:
        "../scripts/build_ultrachat_prompts.py"


rule build_heldout_prompts:
    """The reward benchmark's items: Reddit contexts of test-split threads and UltraChat prompts
    kept out of PPO."""
    input:
        shards=shard_paths(),
        ultrachat=config["prompts"]["ultrachat"]["source"],
    output:
        f"{RESULTS}/data/prompts/heldout.parquet",
    log:
        f"{LOGS}/data/build_prompts/heldout.log",
    benchmark:
        f"{BENCH}/data/build_prompts/heldout.tsv"
    conda:
        "../envs/data.yaml"
    params:
        seed=config["seed"],
        test_fraction=config["split"]["test_fraction"],
        heldout_fraction=config["prompts"]["ultrachat"].get("heldout_fraction", 0.0),
        counts=config["prompts"].get("heldout", {}),
        mode=config["prompts"]["ultrachat"]["mode"],
        max_turn_chars=config["context"]["max_turn_chars"],
    script:
        "../scripts/build_heldout_prompts.py"


rule sample_prompt_metadata:
    """Subreddit and time for prompts that have none, drawn from the conditioned train split."""
    input:
        prompts=f"{RESULTS}/data/prompts/{{source}}.parquet",
        examples=f"{RESULTS}/data/reward/conditioned/train.parquet",
    output:
        f"{RESULTS}/data/prompts/{{source}}.sampled_metadata.parquet",
    log:
        f"{LOGS}/data/sample_prompt_metadata/{{source}}.log",
    benchmark:
        f"{BENCH}/data/sample_prompt_metadata/{{source}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        seed=config["seed"],
    script:
        "../scripts/sample_prompt_metadata.py"


localrules:
    pushshift_dump,
