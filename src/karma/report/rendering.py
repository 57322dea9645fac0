"""One table, four files: CSV (the numbers), Markdown and LaTeX/booktabs (for reading and papers), and
an HTML page that shows the table with its notes and carries the other three as downloads, the one
file the Snakemake report shows per table.

Every table writer of the report builds a :class:`Rendered` table and its CSV rows and hands both to
:func:`write_formats`, so all tables share one look and one escaping.
"""

from __future__ import annotations

import base64
import csv
import html
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from karma.report.layout import TABLE_FORMATS

log = logging.getLogger(__name__)

MISSING = "n/a"
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


_HTML_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em 2em;
       color: #1f2328; background: #ffffff; max-width: 75em; }
h1 { font-size: 1.15em; font-weight: 600; margin: 0 0 0.8em 0; }
table { border-collapse: collapse; font-size: 0.92em; font-variant-numeric: tabular-nums; }
thead th { border-top: 2px solid #1f2328; border-bottom: 1px solid #1f2328; }
tbody tr:last-child td { border-bottom: 2px solid #1f2328; }
th, td { padding: 0.3em 0.9em; white-space: nowrap; vertical-align: top; }
th { white-space: normal; vertical-align: bottom; min-width: 4em; }  /* long headers wrap, not the numbers */
.scroll { overflow-x: auto; }  /* a table wider than the report's pane scrolls instead of being cut */
td.l:last-child { white-space: normal; min-width: 24em; }  /* a long last text column (drop reasons) wraps */
td.r, th.r { text-align: right; } td.l, th.l { text-align: left; } td.c, th.c { text-align: center; }
tbody tr:nth-child(even) { background: #f6f8fa; }
sup { color: #b31d28; font-weight: 600; }
.notes { font-size: 0.85em; color: #444c56; margin-top: 0.9em; max-width: 70em; }
.notes p { margin: 0.25em 0; }
.downloads { margin-top: 1.2em; font-size: 0.9em; }
.downloads a { margin-right: 1.2em; }
"""
_DOWNLOADS = (("csv", "CSV (numbers)", "text/csv"), ("tex", "LaTeX (booktabs)", "application/x-tex"),
              ("md", "Markdown", "text/markdown"))


def _html_entry(entry: Entry) -> str:
    if isinstance(entry, Value):
        return html.escape(entry.text) + (f"<sup>{html.escape(entry.markers)}</sup>" if entry.markers else "")
    return html.escape(entry)


def to_html(table: Rendered, downloads: Sequence[Path]) -> str:
    """A self-contained page: the table, its notes, and ``downloads`` embedded as data URIs (the report
    is one HTML file, so linked files would not travel with it)."""
    cells = [f'<th class="{a}">{html.escape(h)}</th>' for h, a in zip(table.header, table.align, strict=True)]
    body = [
        "<tr>" + "".join(f'<td class="{a}">{_html_entry(e)}</td>' for e, a in zip(row, table.align, strict=True))
        + "</tr>"
        for row in table.rows
    ]
    notes = "".join(f"<p>{html.escape(note)}</p>" for note in table.notes)
    links = []
    by_suffix = {path.suffix.lstrip("."): path for path in downloads}
    for suffix, label, mime in _DOWNLOADS:
        if suffix in by_suffix:
            path = by_suffix[suffix]
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            links.append(f'<a download="{html.escape(path.name)}" href="data:{mime};charset=utf-8;base64,{data}">'
                         f"{label}: {html.escape(path.name)}</a>")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(table.title)}</title>",
        f"<style>{_HTML_STYLE}</style></head><body>",
        f"<h1>{html.escape(table.title)}</h1>",
        f"<div class=\"scroll\"><table><thead><tr>{''.join(cells)}</tr></thead><tbody>",
        *body,
        "</tbody></table></div>",
        f'<div class="notes">{notes}</div>' if notes else "",
        f'<p class="downloads">Download: {" ".join(links)}</p>',
        "</body></html>",
    ]) + "\n"


def write_formats(
    out_dir: Path, stem: str, table: Rendered, csv_header: Sequence[str], csv_rows: list[list[Any]]
) -> list[Path]:
    """``<stem>.csv``, ``.md``, ``.tex`` and ``.html`` in ``out_dir``, in :data:`TABLE_FORMATS` order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{stem}.csv"
    write_csv(csv_path, csv_header, csv_rows)
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(to_markdown(table))
    tex_path = out_dir / f"{stem}.tex"
    tex_path.write_text(to_latex(table, stem))
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(to_html(table, [csv_path, tex_path, md_path]))
    log.info("wrote table %s (%d rows) as %s", stem, len(table.rows), ", ".join(TABLE_FORMATS))
    return [csv_path, md_path, tex_path, html_path]
