"""The data stage: Pushshift dumps in, threads, reward-model examples and PPO prompts out.

Reads ``RS_*``/``RC_*`` dumps (zstd NDJSON or plain) and UltraChat's ``train_sft`` Parquet; writes
``data/posts``, ``data/comments``, ``data/threads`` (shards + ``manifest.json``), ``data/reward/<setting>``
and ``data/prompts``. Called by the rules of ``workflow/rules/data.smk``: ``select_posts``
(:mod:`.post_selection`), ``collect_comments`` (:mod:`.comment_collection`, with the compiled scan
``_linescan``), ``build_threads`` (:mod:`.threads`), ``build_examples`` (:mod:`.examples`,
:mod:`.labels`) and ``build_reddit_prompts``/``build_ultrachat_prompts`` (:mod:`.prompts`).
"""
