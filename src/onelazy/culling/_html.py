"""The contact sheet: ``cull-report.html``, rejects grouped by reason, near-duplicate groups side by side.

Thumbnails are the moved files themselves, shown small by the browser (``loading="lazy"``), linked by
paths relative to the dataset so the page works opened straight from disk and costs no second decode.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from onelazy.dataset.cull_report import REASONS

_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;background:#111;color:#ddd}a{color:#8cf}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #444}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{width:180px;background:#1c1c1c;padding:6px;border-radius:4px}
.card img,.card .none{width:180px;height:180px;object-fit:contain;background:#000;display:block}
.card .none{display:flex;align-items:center;justify-content:center;color:#888}
.name{font-weight:600;word-break:break-all}.why{color:#aaa;font-size:12px}
.group{display:flex;gap:10px;margin:8px 0;padding:6px;background:#181818;border-radius:4px}
.keep{outline:2px solid #3a3}
"""


def _card(src: str | None, name: str, why: str, *, keep: bool = False) -> str:
    image = (
        f'<img loading="lazy" src="{html.escape(quote(src))}" alt="">'
        if src
        else '<div class="none">no preview</div>'
    )
    css = "card keep" if keep else "card"
    return (
        f'<div class="{css}">{image}<div class="name">{html.escape(name)}</div>'
        f'<div class="why">{html.escape(why)}</div></div>'
    )


def render_contact_sheet(report: dict[str, Any], dataset_name: str) -> str:
    """The whole page as a string, from the report data."""
    files: list[dict[str, Any]] = report["files"]
    summary = report["summary"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>cull report: {html.escape(dataset_name)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>cull report: {html.escape(dataset_name)}</h1>",
        f"<p>{summary['kept']} kept, {summary['rejected']} rejected. Rejected files are in "
        "<code>.rejected/&lt;reason&gt;/</code>; <code>onelazy cull --undo</code> puts them back.</p>",
        "<table><tr><th>reason</th><th>files</th></tr>",
    ]
    for reason, count in summary["rejected_by_reason"].items():
        parts.append(f"<tr><td><a href='#{reason}'>{reason}</a></td><td>{count}</td></tr>")
    parts.append("</table>")
    rejected = [entry for entry in files if entry.get("status") == "rejected"]
    for reason in REASONS:
        entries = [entry for entry in rejected if entry.get("reason") == reason]
        if not entries:
            continue
        parts.append(f"<h2 id='{reason}'>{reason} ({len(entries)})</h2>")
        if reason in ("duplicate", "near-duplicate"):
            by_keeper: dict[str, list[dict[str, Any]]] = {}
            for entry in entries:
                by_keeper.setdefault(str(entry.get("keeper")), []).append(entry)
            for keeper, group in by_keeper.items():
                cards = [_card(keeper, keeper, "kept", keep=True)]
                cards += [_card(e.get("moved_to") or e["file"], e["file"], e["message"]) for e in group]
                parts.append(f"<div class='group'>{''.join(cards)}</div>")
        else:
            preview = reason != "unreadable"
            cards = [
                _card((e.get("moved_to") or e["file"]) if preview else None, e["file"], e["message"])
                for e in entries
            ]
            parts.append(f"<div class='cards'>{''.join(cards)}</div>")
    parts.append("</body></html>\n")
    return "".join(parts)
