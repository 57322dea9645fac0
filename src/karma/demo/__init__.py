"""Only for the offline demo: generated inputs with planted signals, tokenizers and tiny models.

Writes ``resources/demo/pushshift`` (:mod:`.pushshift_writer` over :mod:`.corpus`), the UltraChat-format
prompts (:mod:`.ultrachat`), benchmark fixtures in the real datasets' schemas
(:mod:`.benchmark_fixtures`), and per run the demo tokenizers (:mod:`.tokenizer_training`) and tiny
models (:mod:`.tiny_models`). Called by the rules ``generate_demo_pushshift``, ``generate_demo_ultrachat``,
``write_benchmark_fixtures``, ``train_tokenizer`` and ``build_tiny_model``. Paper runs never import it.
"""
