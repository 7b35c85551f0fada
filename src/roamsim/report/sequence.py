"""Draw a :class:`~roamsim.report.ladder.Ladder` as an inline SVG sequence diagram.

One lifeline per element, one arrow per message row (origin → destination of the
hop) in time order, the simulated time of each message on the left and the
result code's name on the right of the answer that leaves the responder; a band
announces each procedure attempt where its first message appears.
"""

from __future__ import annotations

from roamsim.report.codes import is_success, result_name
from roamsim.report.ladder import Ladder, Message, Procedure
from roamsim.report.svg import NS, esc, utc

TIME_W, COL_W, NOTE_W = 104, 118, 290
HEAD_H, ROW_H, BAND_H = 44, 20, 24


def procedure_title(p: Procedure) -> str:
    """``attach (retry, attempt 2) on 214-03: rejected, EMM #17, steered``."""
    bits = [p.trigger] + ([f"attempt {p.attempt}"] if p.attempt is not None else [])
    tail = [p.outcome] + ([f"EMM #{p.emm_cause}"] if p.emm_cause is not None else []) + (
        ["steered"] if p.steered else [])
    return f"{p.type.replace('_', ' ')} ({', '.join(bits)}) on {p.visited_plmn}: {', '.join(tail)}"


def _arrow(x1: float, x2: float, y: float, cls: str) -> str:
    d = 1 if x2 >= x1 else -1
    tip = x2 - d * 2
    return (f'<line class="msg {cls}" x1="{x1:.1f}" x2="{tip - d * 6:.1f}" y1="{y}" y2="{y}"/>'
            f'<path class="head {cls}" d="M{tip:.1f} {y}L{tip - d * 8:.1f} {y - 4}L{tip - d * 8:.1f} {y + 4}Z"/>')


def _label(m: Message) -> tuple[str, str]:
    """Arrow text and class (``req``, ``ok``, ``err``)."""
    if m.is_request:
        return m.message, "req"
    if m.result_code is None:
        return m.message, "ok"
    ok = is_success(m.protocol, m.result_code)
    return f"{m.message} {m.result_code}", "err" if ok is False else "ok"


def ladder_svg(ladder: Ladder) -> str:
    cols = {e: i for i, e in enumerate(ladder.columns)}
    procs = {p.procedure_id: p for p in ladder.procedures}
    width = TIME_W + COL_W * len(cols) + NOTE_W
    body: list[str] = []
    y = HEAD_H
    shown: set[int] = set()
    noted: set[int] = set()
    for m in ladder.messages:
        if m.procedure_id not in shown and m.procedure_id in procs:
            shown.add(m.procedure_id)
            p = procs[m.procedure_id]
            body.append(f'<rect class="band" x="0" y="{y + 2}" width="{width}" height="{BAND_H - 4}"/>'
                        f'<text class="bandtext" x="6" y="{y + 16}">'
                        f'{esc(utc(p.start_ns, "%Y-%m-%d %H:%M:%S"))} UTC · #{p.procedure_id} '
                        f"{esc(procedure_title(p))}</text>")
            y += BAND_H
        yy = y + ROW_H / 2 + 3
        x1 = TIME_W + COL_W * (cols[m.origin] + 0.5)
        x2 = TIME_W + COL_W * (cols[m.destination] + 0.5)
        text, cls = _label(m)
        note = ""
        if not m.is_request and m.result_code is not None and m.txn_id not in noted:
            noted.add(m.txn_id)
            note = f"{m.result_code} {result_name(m.protocol, m.result_code, m.experimental)}"
        t_label = utc(m.time_ns, "%H:%M:%S.") + f"{m.time_ns % NS // 1_000_000:03d}"
        title = (f"{m.protocol} {m.interface} {m.message} {m.origin} → {m.destination}, hop {m.hop}, "
                 f"txn {m.txn_id}" + (f", {note}" if note else ""))
        body.append(f'<g class="row"><title>{esc(title)}</title>'
                    f'<text class="ltime" x="{TIME_W - 8}" y="{yy + 4}">{t_label}</text>'
                    f"{_arrow(x1, x2, yy, cls)}"
                    f'<text class="mlab {cls}" x="{(x1 + x2) / 2:.1f}" y="{yy - 3}">{esc(text)}</text>'
                    + (f'<text class="note {cls}" x="{TIME_W + COL_W * len(cols) + 8}" y="{yy + 4}">'
                       f"{esc(note)}</text>" if note else "")
                    + "</g>")
        y += ROW_H
    height = y + 8
    head = []
    for e, i in cols.items():
        x = TIME_W + COL_W * (i + 0.5)
        head.append(f'<line class="life" x1="{x:.1f}" x2="{x:.1f}" y1="{HEAD_H - 4}" y2="{height}"/>'
                    f'<text class="role" x="{x:.1f}" y="16">{esc(ladder.roles.get(e, e))}</text>'
                    f'<text class="elem" x="{x:.1f}" y="32">{esc(e)}</text>')
    return (f'<svg class="ladder" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="sequence diagram of IMSI {ladder.imsi}">{"".join(head)}{"".join(body)}</svg>')
