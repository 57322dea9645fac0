"""Rendering of a table as CSV (numbers), Markdown and LaTeX/booktabs (for reading).

Shared by every table writer of the report, so all tables look and escape alike.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from karma.report.layout import TABLE_FORMATS

log = logging.getLogger(__name__)

MISSING = "n/a"


@dataclass(frozen=True)
class Value:
    """A displayed number and whether it carries the significance marker."""

    text: str
    marked: bool = False


Entry = str | Value


@dataclass
class RenderedTable:
    title: str
    header: list[str]
    rows: list[list[Entry]]
    align: str
    marker_note: str = ""
    notes: list[str] = field(default_factory=list)


def fmt(value: float | None, decimals: int) -> str:
    if value is None or math.isnan(value):
        return MISSING
    return f"{value:.{decimals}f}"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*")


def _md_entry(entry: Entry) -> str:
    if isinstance(entry, Value):
        return entry.text + ("\\*" if entry.marked else "")
    return _md_escape(entry)


def _to_markdown(table: RenderedTable) -> str:
    align = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [f"**{_md_escape(table.title)}**", ""]
    lines.append("| " + " | ".join(_md_escape(h) for h in table.header) + " |")
    lines.append("|" + "|".join(align[a] for a in table.align) + "|")
    lines += ["| " + " | ".join(_md_entry(e) for e in row) + " |" for row in table.rows]
    notes = ([f"\\* {_md_escape(table.marker_note)}"] if table.marker_note else []) + [
        _md_escape(n) for n in table.notes
    ]
    if notes:
        lines.append("")
        lines += [f"{note}  " for note in notes]
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
}


def _tex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_entry(entry: Entry) -> str:
    if isinstance(entry, Value):
        return _tex_escape(entry.text) + ("$^{*}$" if entry.marked else "")
    return _tex_escape(entry)


def _to_latex(table: RenderedTable, label: str) -> str:
    lines = [
        "% Written by karma.report.tables; needs \\usepackage{booktabs}.",
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
    notes = ([f"$^{{*}}$ {_tex_escape(table.marker_note)}"] if table.marker_note else []) + [
        _tex_escape(n) for n in table.notes
    ]
    if notes:
        lines.append("\\par\\smallskip{\\footnotesize " + " \\par ".join(notes) + "\\par}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def _csv_value(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value


def write_table_formats(
    out_dir: Path, stem: str, table: RenderedTable, csv_header: Sequence[str], csv_rows: list[list[Any]]
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{stem}.csv"
    write_csv(csv_path, csv_header, csv_rows)
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(_to_markdown(table))
    tex_path = out_dir / f"{stem}.tex"
    tex_path.write_text(_to_latex(table, stem))
    log.info("wrote table %s (%d rows) as %s", stem, len(table.rows), ", ".join(TABLE_FORMATS))
    return [csv_path, md_path, tex_path]


def write_csv(path: Path, header: Sequence[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([[_csv_value(v) for v in row] for row in rows])
