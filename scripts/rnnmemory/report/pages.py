"""HTML pieces of the report: a table as a page of its own (readable in the browser, its CSV
to download) and the first page's inline figure and table. pandas only."""

from __future__ import annotations

import base64
import html

import pandas as pd

STYLE = """<style>
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 12px; color: #222; }
table { border-collapse: collapse; } th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; }
th { position: sticky; top: 0; background: #f3f3f3; cursor: pointer; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
</style>"""
# click a header to sort by that column (numbers as numbers)
SORT = """<script>
document.querySelectorAll("th").forEach((th, col) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], rows = Array.from(body.rows);
  const key = r => { const t = r.cells[col].textContent, n = parseFloat(t);
                     return isNaN(n) ? t : n; };
  const dir = th.dataset.dir = th.dataset.dir === "1" ? "-1" : "1";
  rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * dir);
  rows.forEach(r => body.appendChild(r));
}));
</script>"""


def _cell(value) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:.4g}</td>'
    if isinstance(value, int | bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{html.escape('' if pd.isna(value) else str(value))}</td>"


def html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "\n".join(  # a line per row: docutils refuses lines over 10000 characters
        "<tr>" + "".join(_cell(v) for v in row) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{rows}\n</tbody></table>"


def table_page(frame: pd.DataFrame, name: str, description: str, csv_text: str) -> str:
    """A whole HTML page: title, description, the CSV as a download link, the table."""
    data = base64.b64encode(csv_text.encode()).decode()
    link = f'<a download="{name}.csv" href="data:text/csv;base64,{data}">download {name}.csv</a>'
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title>{STYLE}</head>"
        f"<body><h3>{name}</h3><p>{html.escape(description)} ({len(frame)} rows; click a "
        f"column to sort) &middot; {link}</p>{html_table(frame)}{SORT}</body></html>"
    )


def inline_png(png: bytes, alt: str, width: str = "100%") -> str:
    """A PNG inside the page itself, as reStructuredText's raw HTML. The base64 text is cut into
    lines: docutils refuses lines over 10000 characters, and browsers drop the line breaks of a
    data URL's base64."""
    data = base64.encodebytes(png).decode().strip()  # 76 characters per line
    source = "data:image/png;base64," + data
    return f'<img alt="{html.escape(alt)}" style="max-width:{width}" src="{source}"/>'
