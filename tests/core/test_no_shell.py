"""No subprocess call goes through a shell: paths with blanks or `;` in them stay paths.

Issue 14, defect 9: benchmarks/ingest.py ran `zstd -dc {dump} > /dev/null` with shell=True.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_call_passes_shell_true():
    offenders = []
    for folder in ("src", "benchmarks", "workflow/scripts", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and any(
                    kw.arg == "shell" and not (isinstance(kw.value, ast.Constant)
                                               and kw.value.value is False)
                    for kw in node.keywords
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
