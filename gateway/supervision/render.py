"""The report as CSV (one row per unit) and as one self-contained HTML page with inline
SVG charts (no scripts, no external assets: it opens offline and prints as it looks)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")

CSV_COLUMNS = [
    "unit_id", "name", "tier", "orders",
    "ack_due", "ack_on_time", "ack_on_time_rate", "ack_median_min",
    "arrive_due", "arrive_on_time", "arrive_on_time_rate", "arrive_median_min",
    "completed", "completed_on_time", "completed_median_min",
    "reports_filed", "reports_on_time", "report_median_min",
    "duty_answered", "duty_missed", "duty_line_misses",
    "deduction_items", "deduction_points",
]


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for u in report["units"]:
        a, r, c, rep = u["acknowledged"], u["arrived"], u["completed"], u["reports"]
        w.writerow([
            u["unit_id"], u["name"], u["tier"], u["orders"],
            a["due"], a["on_time"], _blank(a["on_time_rate"]), _blank(a["median_minutes"]),
            r["due"], r["on_time"], _blank(r["on_time_rate"]), _blank(r["median_minutes"]),
            c["done"], c["on_time"], _blank(c["median_minutes"]),
            rep["done"], rep["on_time"], _blank(rep["median_minutes"]),
            u["duty_checks"]["answered"], u["duty_checks"]["missed"],
            u["duty_checks"]["line_misses"], u["deduction_items"], u["deduction_points"],
        ])
    return out.getvalue()


def _blank(v: object) -> object:
    return "" if v is None else v


def _local(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def _label(u: dict[str, Any]) -> str:
    return str(u["name"] or u["unit_id"])


def bar_chart(title: str, rows: list[tuple[str, float | None]], *, pct: bool, colour: str) -> str:
    """Horizontal bars, one per unit; None is drawn as "no data"."""
    width, left, bar_h, gap = 640, 190, 18, 6
    top = 28
    height = top + len(rows) * (bar_h + gap) + 10
    vmax = 1.0 if pct else max([v for _, v in rows if v is not None] + [1.0])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    span = width - left - 60
    for i, (name, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" font-size="12" text-anchor="end">'
            f"{escape(name[:16])}</text>"
        )
        if value is None:
            parts.append(
                f'<text x="{left + 4}" y="{y + 13}" font-size="11" fill="#888">无数据</text>'
            )
            continue
        w = max(1.0, span * value / vmax)
        fill = colour if not pct or value >= 0.9 else ("#e0a000" if value >= 0.6 else "#c62828")
        text = f"{value * 100:.0f}%" if pct else f"{value:g}"
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{fill}">'
            f"<title>{escape(name)}: {text}</title></rect>"
        )
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 13}" font-size="11">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: dict[str, Any]) -> str:
    units = report["units"]
    scored = [u for u in units if u["orders"] or u["deductions"]]
    charts = [
        bar_chart(
            "到场及时率(按单位,低者在前)",
            _worst_first([(_label(u), u["arrived"]["on_time_rate"]) for u in scored]),
            pct=True, colour="#2e7d32",
        ),
        bar_chart(
            "指令确认及时率(按单位,低者在前)",
            _worst_first([(_label(u), u["acknowledged"]["on_time_rate"]) for u in scored]),
            pct=True, colour="#1565c0",
        ),
        bar_chart(
            "扣分合计(按单位)",
            _most_first(
                [(_label(u), float(u["deduction_points"])) for u in scored
                 if u["deduction_points"]]
            ),
            pct=False, colour="#c62828",
        ),
    ]
    head = (
        "<tr><th>单位</th><th>级别</th><th>指令数</th><th>确认及时率</th><th>确认中位(分)</th>"
        "<th>到场及时率</th><th>到场中位(分)</th><th>完成</th><th>书面反馈</th>"
        "<th>值班抽查 接/未接</th><th>扣分项</th><th>扣分</th></tr>"
    )
    body = []
    for u in units:
        a, r = u["acknowledged"], u["arrived"]
        body.append(
            "<tr>"
            f"<td>{escape(_label(u))}</td><td>{_blank(u['tier'])}</td><td>{u['orders']}</td>"
            f"<td>{_rate(a['on_time_rate'])}</td><td>{_blank(a['median_minutes'])}</td>"
            f"<td>{_rate(r['on_time_rate'])}</td><td>{_blank(r['median_minutes'])}</td>"
            f"<td>{u['completed']['done']}</td><td>{u['reports']['done']}/{u['reports']['due']}</td>"
            f"<td>{u['duty_checks']['answered']}/{u['duty_checks']['missed']}</td>"
            f"<td>{u['deduction_items']}</td><td>{u['deduction_points']}</td></tr>"
        )
    items = []
    for u in units:
        for d in u["deductions"]:
            items.append(
                f"<tr><td>{escape(_label(u))}</td><td>{escape(_local(d['at']))}</td>"
                f"<td>第{d['item']}项 {escape(d['label'])}</td><td>{d['points']}</td>"
                f"<td>{escape(str(d.get('ref') or ''))}</td>"
                f"<td><code>{escape(str(d.get('evidence_id') or ''))}</code></td></tr>"
            )
    rules = "".join(
        f"<li>第{r['item']}项 {escape(r['label'])}:{r['points']} 分/项</li>"
        for r in report["rules"]
    )
    period = f"{escape(_local(report['from']))} – {escape(_local(report['to']))}"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>社会应急联动监督报告 {period}</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#222}}
table{{border-collapse:collapse;margin:12px 0}}td,th{{border:1px solid #ccc;padding:4px 8px;
font-size:13px}}th{{background:#f3f3f3}}.charts svg{{display:block;margin:16px 0}}
</style></head><body>
<h1>社会应急联动监督报告</h1>
<p>统计区间:{escape(_local(report['from']))} 至 {escape(_local(report['to']))}(北京时间)。
指令 {report['totals']['orders']} 条;扣分项 {report['totals']['deduction_items']} 项,
合计 {report['totals']['deduction_points']} 分。演练(exercise/test)不计入。</p>
<div class="charts">{''.join(charts)}</div>
<h2>各单位情况</h2><table>{head}{''.join(body)}</table>
<h2>扣分明细(附证据编号)</h2>
<table><tr><th>单位</th><th>时间</th><th>扣分事项</th><th>分值</th><th>关联</th><th>证据</th></tr>
{''.join(items) or '<tr><td colspan="6">无</td></tr>'}</table>
<h2>扣分标准</h2><p>丽应急〔2020〕62号 附件1:每项扣0.5至2分。本报告采用:</p><ul>{rules}</ul>
</body></html>
"""


def _most_first(rows: list[tuple[str, float]]) -> list[tuple[str, float | None]]:
    return [(name, v) for name, v in sorted(rows, key=lambda r: -r[1])]


def _worst_first(rows: list[tuple[str, float | None]]) -> list[tuple[str, float | None]]:
    """Lowest rate first (what a supervisor looks for); units without data last."""
    return sorted(rows, key=lambda r: (r[1] is None, r[1] if r[1] is not None else 0.0))


def _rate(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"
