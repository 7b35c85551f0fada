"""The HTML shell shared by the report and the comparison: inline CSS, one small inline script, figures.

The page is self-contained for air-gapped labs: no external URL, font or script.
A Content-Security-Policy meta tag allows only the page's own style sheet and
script (by SHA-256 hash, CSP Level 3) and ``data:`` images, so a browser would
refuse (and report) anything else.

Every figure taken from kpis.json carries ``data-kpi`` (its JSON path, as a JSON
array) and ``data-value`` (the exact value), so tools and tests can check the
page against kpis.json; derived figures carry ``data-metric`` instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from roamsim.report.svg import esc, palette_css

CSS = """
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d8dde3;--bg:#fff;--band:#f3f5f8;--bad:#c62828;--good:#2e7d32}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);
 background:var(--bg);margin:0 auto;max-width:1200px;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid var(--line);
 padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.meta{color:var(--muted);margin:0 0 8px}.meta code{color:var(--fg)}
nav a{margin-right:12px;color:#1f5fa8;text-decoration:none}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px;margin:10px 0}
.tile{border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.tile .k{color:var(--muted);font-size:12px}.tile .v{font-size:22px;font-weight:600}
.tile .v.small{font-size:16px}
.tile .s{color:var(--muted);font-size:12px}
table{border-collapse:collapse;margin:6px 0 4px;font-variant-numeric:tabular-nums;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:right;white-space:nowrap}
th{background:var(--band);font-weight:600;position:sticky;top:0}
th.l,td.l{text-align:left}
table.sortable th{cursor:pointer}table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
.scroll{overflow-x:auto}
.note{color:var(--muted);font-size:12px;margin:2px 0 10px}
.legend{list-style:none;padding:0;margin:2px 0 0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px}
.legend .sw{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:5px}
.legend .dash{border-top-width:3px;border-top-style:dashed;background:none;height:0}
.up{color:var(--good)}.down{color:var(--bad)}
svg{display:block;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}
.grid{stroke:#eceff3}.axis,.tick{stroke:#8a929c}
.ylab{text-anchor:end;fill:var(--muted)}.xlab{text-anchor:middle;fill:var(--muted)}
.xcap{text-anchor:end;fill:var(--muted);font-size:10px}
.line{fill:none;stroke-width:1.6}
.blab{text-anchor:end}.bval{fill:var(--muted)}
.ladder .life{stroke:#b8c0ca;stroke-dasharray:3 3}.ladder .role{text-anchor:middle;font-weight:700}
.ladder .elem{text-anchor:middle;fill:var(--muted);font-size:10px}
.ladder .band{fill:var(--band)}.ladder .bandtext{font-weight:600}
.ladder .ltime{text-anchor:end;fill:var(--muted);font-size:10px}
.ladder .mlab{text-anchor:middle;font-size:10px}
.ladder line.msg{stroke-width:1.3}.ladder .req{stroke:#1f5fa8;fill:#1f5fa8}.ladder .ok{stroke:#2e7d32;fill:#2e7d32}
.ladder .err{stroke:var(--bad);fill:var(--bad)}.ladder text.req,.ladder text.ok{stroke:none}
.ladder text.err{stroke:none;font-weight:600}.ladder .note{font-size:10px}
.ladder g.row:hover line.msg{stroke-width:2.6}
@media print{nav{display:none}th{position:static}}
"""

SCRIPT = """
(function(){
  function key(td){var v=td.getAttribute("data-sort");if(v!==null&&v!==""&&!isNaN(v))return parseFloat(v);
    return td.textContent.trim().toLowerCase();}
  document.querySelectorAll("table.sortable").forEach(function(table){
    table.querySelectorAll("thead th").forEach(function(th,col){
      th.addEventListener("click",function(){
        var asc=th.getAttribute("aria-sort")!=="ascending";
        table.querySelectorAll("thead th").forEach(function(o){o.removeAttribute("aria-sort");});
        th.setAttribute("aria-sort",asc?"ascending":"descending");
        var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
          if(typeof x!==typeof y){x=String(x);y=String(y);}return (x<y?-1:x>y?1:0)*(asc?1:-1);});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
})();
"""


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def page(title: str, body: str) -> str:
    """A complete self-contained HTML document."""
    css = CSS + palette_css()
    csp = (f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(SCRIPT)}'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{css}</style></head>\n<body>\n{body}\n"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def kpi_get(kpis: dict[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` in kpis.json, or None."""
    cur: Any = kpis
    for k in path:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def fmt(value: float | None, unit: str) -> str:
    """A figure for reading: ``ratio`` as a percentage, ``ms`` as ms/s, counts with separators."""
    if value is None:
        return "n/a"
    if unit == "ratio":
        return f"{100 * value:.2f}%"
    if unit == "ms":
        return f"{value / 1000:,.2f} s" if abs(value) >= 1000 else f"{value:,.1f} ms"
    if unit == "tps":
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"


def _attrs(value: float | None, unit: str, kpi: Sequence[str] | None, metric: str | None) -> str:
    a = [f'data-unit="{unit}"', f'data-value="{"" if value is None else json.dumps(value)}"']
    if kpi is not None:
        a.append(f'data-kpi="{esc(json.dumps(list(kpi)))}"')
    if metric is not None:
        a.append(f'data-metric="{esc(metric)}"')
    return " ".join(a)


def figure(value: float | None, unit: str, *, kpi: Sequence[str] | None = None, metric: str | None = None) -> str:
    """A figure as a ``<span>`` with its data attributes."""
    return f'<span class="fig" {_attrs(value, unit, kpi, metric)}>{esc(fmt(value, unit))}</span>'


def kpi_figure(kpis: dict[str, Any], path: Sequence[str], unit: str) -> str:
    """A figure read from kpis.json at ``path``."""
    v = kpi_get(kpis, path)
    return figure(v if isinstance(v, int | float) else None, unit, kpi=path)


def cell(content: str, sort: float | str | None = None, cls: str = "") -> str:
    s = "" if sort is None else f' data-sort="{esc(sort)}"'
    c = f' class="{cls}"' if cls else ""
    return f"<td{c}{s}>{content}</td>"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1, sortable: bool = True,
          cls: str = "", row_attrs: Sequence[dict[str, str]] | None = None) -> str:
    """A table: ``headers`` (the first ``left`` columns left-aligned), rows of ready ``<td>`` cells.

    ``row_attrs``: extra attributes of each ``<tr>`` (e.g. ``data-code``).
    """
    ths = "".join(f'<th class="l">{esc(h)}</th>' if i < left else f"<th>{esc(h)}</th>"
                  for i, h in enumerate(headers))
    attrs = [("".join(f' {k}="{esc(v)}"' for k, v in a.items())) for a in row_attrs] if row_attrs else None
    body = "".join(f"<tr{attrs[i] if attrs else ''}>{''.join(r)}</tr>" for i, r in enumerate(rows))
    classes = " ".join(x for x in ("sortable" if sortable else "", cls) if x)
    return (f'<div class="scroll"><table class="{classes}"><thead><tr>{ths}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def legend(items: Sequence[tuple[str, int, bool]]) -> str:
    """A legend: (label, palette colour, dashed)."""
    lis = "".join(f'<li><span class="sw {f"dash d{c}" if d else f"b{c}"}"></span>{esc(label)}</li>'
                  for label, c, d in items)
    return f'<ul class="legend">{lis}</ul>'
