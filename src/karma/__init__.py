"""KARMA: Karma-Aligned Reward Model Adaptation, the library behind the Snakemake workflow.

One subpackage per DAG stage, mirroring ``workflow/rules/``: :mod:`karma.data` -> :mod:`karma.reward`
-> :mod:`karma.ppo` -> :mod:`karma.evaluation` -> :mod:`karma.report`, plus :mod:`karma.demo` for the
offline demo's generated inputs. A stage imports only the small core at this level and the stages
before it; nothing here imports snakemake.
"""
