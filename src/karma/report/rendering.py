"""One table, three files: CSV (the numbers), Markdown and LaTeX/booktabs (for reading).

Every table writer of the report builds a :class:`Rendered` table and its CSV rows and hands both to
:func:`write_formats`, so all tables share one look and one escaping.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from karma.report.layout import TABLE_FORMATS

log = logging.getLogger(__name__)

MISSING = "n/a"
VARIANT_LABELS = {"base": "Base", "benign": "karmaBenign", "toxic": "karmaToxic", "eroded": "karmaEroded",
                  "control": "Control"}
BASE_MARK = "*"  # the variant differs from Base
CONTRAST_MARK = "†"  # the variant differs from the paper's contrast baseline (karmaBenign)


@dataclass(frozen=True)
class Value:
    """A displayed number and the significance markers it carries (``*``, ``†``)."""

    text: str
    markers: str = ""


Entry = str | Value


@dataclass
class Rendered:
    title: str
    header: list[str]
    rows: list[list[Entry]]
    align: str
    notes: list[str] = field(default_factory=list)


def fmt(value: float | None, decimals: int) -> str:
    if value is None or math.isnan(value):
        return MISSING
    return f"{value:.{decimals}f}"


def order_policies(present: Iterable[str], policy_order: Sequence[str] | None) -> list[str]:
    """Policies in the configured order, then any others alphabetically."""
    present = set(present)
    ordered = [p for p in (policy_order or ()) if p in present]
    return ordered + sorted(present - set(ordered))


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*")


def _md_entry(entry: Entry) -> str:
    if isinstance(entry, Value):
        return entry.text + _md_escape(entry.markers)
    return _md_escape(entry)


def to_markdown(table: Rendered) -> str:
    align = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [f"**{_md_escape(table.title)}**", ""]
    lines.append("| " + " | ".join(_md_escape(h) for h in table.header) + " |")
    lines.append("|" + "|".join(align[a] for a in table.align) + "|")
    lines += ["| " + " | ".join(_md_entry(e) for e in row) + " |" for row in table.rows]
    if table.notes:
        lines.append("")
        lines += [f"{_md_escape(note)}  " for note in table.notes]
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "†": r"\textdagger{}",
}
_LATEX_MARKERS = {BASE_MARK: "*", CONTRAST_MARK: r"\dagger"}


def _tex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_entry(entry: Entry) -> str:
    if isinstance(entry, Value):
        marks = "".join(_LATEX_MARKERS[m] for m in entry.markers)
        return _tex_escape(entry.text) + (f"$^{{{marks}}}$" if marks else "")
    return _tex_escape(entry)


def to_latex(table: Rendered, label: str) -> str:
    lines = [
        "% Written by karma.report; needs \\usepackage{booktabs}.",
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{_tex_escape(table.title)}}}",
        f"\\label{{tab:{label}}}",  # stems are [a-z0-9_], which labels take verbatim
        f"\\begin{{tabular}}{{{table.align}}}",
        "\\toprule",
        " & ".join(_tex_escape(h) for h in table.header) + " \\\\",
        "\\midrule",
    ]
    lines += [" & ".join(_tex_entry(e) for e in row) + " \\\\" for row in table.rows]
    lines += ["\\bottomrule", "\\end{tabular}"]
    if table.notes:
        notes = [_tex_escape(n) for n in table.notes]
        lines.append("\\par\\smallskip{\\footnotesize " + " \\par ".join(notes) + "\\par}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def _csv_value(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value


def write_csv(path: Path, header: Sequence[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([[_csv_value(v) for v in row] for row in rows])


def write_formats(
    out_dir: Path, stem: str, table: Rendered, csv_header: Sequence[str], csv_rows: list[list[Any]]
) -> list[Path]:
    """``<stem>.csv``, ``.md`` and ``.tex`` in ``out_dir``, in :data:`TABLE_FORMATS` order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{stem}.csv"
    write_csv(csv_path, csv_header, csv_rows)
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(to_markdown(table))
    tex_path = out_dir / f"{stem}.tex"
    tex_path.write_text(to_latex(table, stem))
    log.info("wrote table %s (%d rows) as %s", stem, len(table.rows), ", ".join(TABLE_FORMATS))
    return [csv_path, md_path, tex_path]
