"""The reward stage: a causal-LM backbone with an MLP head, trained on karma labels.

Reads ``data/reward/<setting>/{train,test}.parquet`` and a backbone directory (a hub model or a demo
tiny model); writes ``reward/<setting>/model`` (safetensors) and ``metrics.json`` (held-out accuracy,
F1, ROC AUC). Called by the rule ``train_reward_model`` (:mod:`.training`); :mod:`.model` is also the
PPO reward (``RewardScorer``) and :mod:`.metrics` the held-out metrics.
"""
