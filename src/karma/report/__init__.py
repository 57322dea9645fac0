"""The report stage: significance tests, the paper's tables and figures, from cell files only.

Reads ``eval/**.json`` cells, ``reward/<setting>/metrics.json`` and PPO train logs; writes
``tables/`` (CSV, Markdown, LaTeX) and ``figures/`` (PNG, SVG). Called by the rules ``tables``
(:mod:`.tables`) and ``figures`` (:mod:`.figures`); :mod:`.layout` names their files without heavy
imports, so the Snakefile parses fast.
"""
