"""The evaluation stage: seven benchmarks through lm-eval, one JSON cell per (policy, variant, benchmark).

Reads a policy model directory, local benchmark files (:mod:`.benchmark_data`) and, for toxicity, a
scorer (:mod:`.toxicity`); writes ``eval/<policy>/<variant>/<benchmark>.json`` in the format of
:mod:`.cells`. Called by the rules ``evaluate_policy`` and ``evaluate_cell`` (:mod:`.lm_eval_runner`,
with the task folder ``tasks/``).
"""
