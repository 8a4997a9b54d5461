"""The deduction table (丽水市社会应急联动工作扣分标准, 丽应急〔2020〕62号 附件1):
"each item 0.5 to 2 points". Which value within that range applies to which fact is the
supervisors' call; these defaults are explicit and overridable (LINKGATE_DEDUCTION_POINTS).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.settings import Settings

MIN_POINTS = 0.5
MAX_POINTS = 2.0
DUTY_MISSES_PER_ITEM = 3  # item 8: a duty or liaison phone unanswered three times


@dataclass(frozen=True)
class Rule:
    kind: str
    points: float
    item: int
    label: str


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("late_arrival", 1.0, 9, "未按规定及时到达现场"),
    Rule("missing_feedback", 1.0, 10, "未按规定反馈(指令未确认)"),
    Rule("missing_report", 0.5, 10, "未按时书面反馈处置结果"),
    Rule("refused_order", 2.0, 10, "有警不出、推诿扯皮"),
    Rule("unreported_liaison_change", 1.0, 8, "值班电话或联络员变更未报备"),
    Rule("duty_line_unanswered", 1.0, 8, "值班电话或联络员电话三次无人接听"),
)


class RulesError(ValueError):
    """A configured deduction outside Lishui's 0.5-2 range or for an unknown fact."""


def rules(settings: Settings) -> dict[str, Rule]:
    """The table with the configured points applied; refuses values outside 0.5-2."""
    table = {r.kind: r for r in DEFAULT_RULES}
    for kind, points in settings.deduction_points.items():
        if kind not in table:
            raise RulesError(f"unknown deduction kind {kind!r}")
        if not MIN_POINTS <= points <= MAX_POINTS:
            raise RulesError(f"{kind}: {points} outside {MIN_POINTS}-{MAX_POINTS} points")
        r = table[kind]
        table[kind] = Rule(r.kind, points, r.item, r.label)
    return table
