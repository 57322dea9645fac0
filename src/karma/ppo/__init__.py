"""The PPO stage: policies aligned against a karma reward model with TRL's PPO.

Reads a policy directory, a reward model directory and ``data/prompts/<source>.parquet``; writes
``policy/<policy>/<variant>/model``, ``train_log.jsonl`` and ``summary.json``. Called by the rules
``train_policy`` (:mod:`.training`, which drives :mod:`.trl_backend` through callbacks) and
``export_base_policy``. :mod:`.settings` and :mod:`.state` hold what orchestrator and backend share,
:mod:`.cross_tokenizer` scores a policy's text with a reward model of another tokenizer.
"""
