"""Rules: the schema, the safety checks, errors naming the line, and every condition."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts import Channel, Destination
from gateway.routing.engine import AlertFacts, RuleEngine
from gateway.routing.fallback import FallbackModel
from gateway.routing.normalise import normalise
from gateway.routing.rules import DEFAULT_RULES_FILE, RulesError, parse_rules

ENGINE = RuleEngine.from_file()


def route(text: str, **kw: object) -> tuple[str, str, list[str]]:
    d = ENGINE.classify(AlertFacts(text=text, **kw))  # type: ignore[arg-type]
    return d.destination.value, d.rule, d.matched


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("路灯坏了", "12345"),
        ("路灯杆倒了压住人", "command-centre"),
        ("路燈桿倒了壓住人", "command-centre"),
        ("渔船在海上进水了", "ocean-fishery"),
        ("台风把渔排打坏了", "ocean-fishery"),
        ("货轮在航道搁浅", "maritime-sar"),
        ("海面上有大片油污", "maritime-sar"),
        ("有人在海边被浪卷走了", "maritime-sar"),
        ("有人掉河里了", "command-centre"),
        ("咨询一下社保转移", "12345"),
        ("楼上装修太吵了", "12345"),
        ("电梯坏了一个星期没人修", "12345"),
        ("电梯坏了里面有人", "command-centre"),
        ("小区门口有个人", "command-centre"),
        ("", "command-centre"),
    ],
)
def test_default_rules_examples(text: str, expected: str) -> None:
    assert route(text)[0] == expected


def test_decision_records_rule_and_phrases_in_text_order() -> None:
    d = ENGINE.classify(AlertFacts(text="路灯杆倒了压住人"))
    assert d.rule == "emergency.structure"
    assert d.emergency is True
    assert d.matched == ["倒了压", "压住"]
    assert d.category == "emergency.structure"


def test_emergency_outranks_hotline_in_one_text() -> None:
    dest, rule, _ = route("投诉一下，物业不管，楼道里煤气味很重")
    assert dest == "command-centre" and rule == "emergency.gas"


def test_default_rules_safety_invariants() -> None:
    rs = ENGINE.ruleset
    hotline = [r.priority for r in rs.rules if r.destination is Destination.HOTLINE_12345]
    emergency = [r.priority for r in rs.rules if r.emergency]
    assert min(emergency) > max(hotline)
    assert rs.default.destination is Destination.COMMAND_CENTRE


BASE = """\
version: 1
rules:
  - id: hot
    priority: 10
    destination: "12345"
    category: svc
    emergency: false
    when:
      any: [路灯]
"""


def test_error_names_line_of_bad_field() -> None:
    bad = BASE + """\
  - id: sea
    priority: 500
    destination: moon-base
    category: x
    emergency: true
    when: {any: [船]}
"""
    with pytest.raises(RulesError) as err:
        parse_rules(bad, "r.yaml")
    assert err.value.line == 12
    assert "r.yaml:12" in str(err.value) and "destination" in str(err.value)


def test_error_names_line_of_yaml_syntax() -> None:
    with pytest.raises(RulesError) as err:
        parse_rules(BASE + "  - id: [unclosed\n", "r.yaml")
    assert err.value.line is not None and err.value.line >= 10
    assert "YAML syntax" in str(err.value)


def test_libyaml_and_pure_python_loaders_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules are read with libyaml's safe loader when PyYAML has it (~10x faster):
    the same rule set, and refusals naming the same lines, as PyYAML's own (a syntax
    error's wording is libyaml's: "did not find expected ',' or ']'")."""
    import yaml

    from gateway.routing import rules

    bad = [
        BASE.replace('destination: "12345"', "destination: moon-base"),
        BASE + "  - id: [unclosed\n",
        BASE.replace("any: [路灯]", "any: [路灯, '@lamps']"),
        BASE.replace("priority: 10", "priority: [10"),
    ]
    default = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    seen = []
    for loader in (yaml.SafeLoader, yaml.CSafeLoader):
        monkeypatch.setattr(rules, "_LOADER", loader)
        refusals = []
        for text in bad:
            with pytest.raises(RulesError) as err:
                parse_rules(text, "r.yaml")
            message = str(err.value)
            refusals.append((err.value.line, message.split(": ")[1] if "YAML" in message
                             else message))
        seen.append((parse_rules(default), refusals))
    assert seen[0] == seen[1]
    assert [line for line, _ in seen[0][1]] == [5, 11, 9, 5]


def test_unknown_phrase_set_names_line() -> None:
    bad = BASE.replace("any: [路灯]", "any: [路灯, '@lamps']")
    with pytest.raises(RulesError) as err:
        parse_rules(bad)
    assert err.value.line == 9 and "@lamps" in str(err.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "  - id: e\n    priority: 5\n    destination: command-centre\n    category: e\n"
            "    emergency: true\n    when: {any: [火]}\n",
            "must outrank",
        ),
        (
            "  - id: e\n    priority: 50\n    destination: '12345'\n    category: e\n"
            "    emergency: true\n    when: {any: [火]}\n",
            "never send to 12345",
        ),
        (
            "  - id: hot\n    priority: 50\n    destination: command-centre\n    category: e\n"
            "    emergency: true\n    when: {any: [火]}\n",
            "duplicate rule id",
        ),
        (
            "  - id: e\n    priority: 50\n    destination: command-centre\n    category: e\n"
            "    emergency: true\n    when: {none: [火]}\n",
            "at least one condition",
        ),
    ],
)
def test_unsafe_or_malformed_rules_refused(extra: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        parse_rules(BASE + extra)


def test_default_to_12345_refused() -> None:
    with pytest.raises(RulesError, match="must not default to 12345"):
        parse_rules("version: 1\ndefault: {destination: '12345'}\n" + BASE.split("\n", 1)[1])


CONDITIONS = """\
version: 1
phrase_sets:
  boats: [船, 艇]
rules:
  - id: sea-night
    priority: 900
    destination: maritime-sar
    category: sea
    emergency: true
    when:
      all: ["@boats", [沉, 翻]]
      none: [演示]
      hours: {start: "22:00", end: "06:00"}
  - id: at-sea
    priority: 800
    destination: maritime-sar
    category: sea
    emergency: true
    when: {at_sea: true}
  - id: sms-12110
    priority: 700
    destination: command-centre
    category: sms
    emergency: true
    when: {channel: [sms], called: ["12110"]}
  - id: district
    priority: 600
    destination: command-centre
    category: d
    emergency: true
    when: {jurisdiction: [putuo], category: ["fire.*"]}
  - id: first-of-tie
    priority: 100
    destination: "12345"
    category: a
    emergency: false
    when: {any: [路灯]}
  - id: second-of-tie
    priority: 100
    destination: "12345"
    category: b
    emergency: false
    when: {any: [路灯]}
"""


def test_every_condition_kind() -> None:
    engine = RuleEngine.from_text(CONDITIONS)
    night = datetime(2026, 1, 1, 15, 0, tzinfo=UTC)  # 23:00 in Asia/Shanghai
    day = datetime(2026, 1, 1, 4, 0, tzinfo=UTC)  # 12:00 local

    def rule(**kw: object) -> str:
        return engine.classify(AlertFacts(**kw)).rule  # type: ignore[arg-type]

    assert rule(text="小船翻了", received_at=night) == "sea-night"
    assert rule(text="小船翻了", received_at=day) == "default"
    assert rule(text="小船翻了(演示)", received_at=night) == "default"
    assert rule(text="小艇", received_at=night) == "default"  # the second group is missing
    assert rule(text="?", at_sea=True) == "at-sea"
    assert rule(text="?", channel=Channel.SMS, called="12110") == "sms-12110"
    assert rule(text="?", channel=Channel.CALL, called="12110") == "default"
    assert rule(text="?", jurisdiction="putuo", category="fire.house") == "district"
    assert rule(text="?", jurisdiction="dinghai", category="fire.house") == "default"
    assert rule(text="路灯") == "first-of-tie"


def test_thousands_of_phrases_still_one_pass() -> None:
    phrases = [f"词{i:05d}" for i in range(5000)]
    doc = BASE.replace("any: [路灯]", "any: [" + ", ".join(phrases) + "]")
    engine = RuleEngine.from_text(doc)
    assert engine.phrase_count == 5000
    d = engine.classify(AlertFacts(text="前面有个词04999在这里"))
    assert d.rule == "hot" and d.matched == ["词04999"]


def test_fallback_section_checked() -> None:
    """`fallback.none` references must exist (the error names the line); the fallback is
    off unless enabled, and an unusable model file refuses the rules."""
    from pathlib import Path

    from gateway.routing.engine import load_fallback

    assert not parse_rules(BASE).fallback.enabled
    bad = BASE.replace("rules:\n", "fallback: {enabled: true, none: ['@nope']}\nrules:\n")
    with pytest.raises(RulesError) as err:
        parse_rules(bad)
    assert err.value.line == 2 and "@nope" in str(err.value)
    with pytest.raises(RulesError, match="model is unusable"):
        load_fallback("x.yaml", Path("/nonexistent/fallback_model.json"))
    with pytest.raises(RulesError, match=r"(?i)extra"):
        parse_rules(BASE.replace("rules:\n", "fallback: {enabled: true, threshold: 1}\nrules:\n"))


@pytest.mark.parametrize(
    "label",
    ["丽水市莲都区万象街道紫金小区", "人民医院门口", "紫金小区物业管理处", "市社保局办事大厅"],
)
def test_a_shared_location_alone_goes_to_a_human(label: str) -> None:
    """A WeChat location message carries only its map label: a place, not a report. The
    statistical fallback (addresses are common in 12345 complaints) and 12345 words in a
    place's name (物业, 社保局) must not send it to 12345: the command centre triages it.
    The same words written by the citizen are a report and are classified as usual."""
    from contracts import Alert, Location
    from gateway.routing.engine import FALLBACK_RULE

    engine = RuleEngine.from_file()
    alert = Alert(
        channel=Channel.WECHAT, received_at=datetime.now(UTC), text=label,
        location=Location(address=label, lat=28.45, lon=119.92),
    )
    decision = engine.classify_alert(alert)
    assert decision.destination is Destination.COMMAND_CENTRE
    assert decision.rule == "default"
    written = engine.classify(AlertFacts(text=label, channel=Channel.WECHAT))
    # the demo's label made the fallback want 12345 when this was found (the model,
    # retrained since, may not): whenever it does, the place-only alert above still went
    # to the command centre
    model, norm = FallbackModel.load(), normalise(label)
    by_rules = engine.classify_rules(AlertFacts(text=label, channel=Channel.WECHAT))
    if by_rules.rule == "default" and engine.fallback_may_apply(norm) and model.is_hotline(norm):
        assert written.rule == FALLBACK_RULE
    said = Alert(
        channel=Channel.WECHAT, received_at=datetime.now(UTC), text="小区物业乱收停车费，投诉",
        location=Location(address=label, lat=28.45, lon=119.92),
    )
    assert engine.classify_alert(said).destination is Destination.HOTLINE_12345


@pytest.mark.parametrize(("flag", "typo"), [("acute", "maybe"), ("leads", "first")])
def test_a_defuse_flag_must_be_a_boolean(flag: str, typo: str) -> None:
    """`acute` (round 13) lets a context stand acute words down, `leads` (round 20) makes
    it hold only when its first group comes before any danger word: a typo in either must
    not load as "on" — the file is refused, naming the line and the field."""
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    assert f"    {flag}: true\n" in text
    bad = text.replace(f"    {flag}: true\n", f"    {flag}: {typo}\n", 1)
    line = bad[: bad.index(f"    {flag}: {typo}")].count("\n") + 1
    with pytest.raises(RulesError) as err:
        parse_rules(bad, "r.yaml")
    assert err.value.line == line
    assert flag in str(err.value)


def test_defuse_leads_needs_a_group_to_lead() -> None:
    """`leads` (round 20) orders the context's first `all` group before the danger words:
    on a context with only `any` there is nothing to lead, so the file is refused, naming
    the line, and nothing is loaded."""
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    start = text.index("  - id: praise\n")
    bad = text[:start] + "  - id: praise\n    leads: true\n" + text[start + len("  - id: praise\n"):]
    line = bad[:start].count("\n") + 1
    with pytest.raises(RulesError) as err:
        parse_rules(bad, "r.yaml")
    assert err.value.line is not None and err.value.line >= line
    assert "leads" in str(err.value)


def test_turn_below_needs_turn_markers() -> None:
    """`turn_below` (round 35c) reads the text after the last turn marker: with no markers
    there is nothing to read, so the file is refused, naming the line, and nothing is
    loaded."""
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    markers, clause_markers = "  turn_markers: [可是, 但是]\n", "  clause_turn_markers: [不过]\n"
    assert markers in text and clause_markers in text
    bad = text.replace(markers, "").replace(clause_markers, "")
    with pytest.raises(RulesError) as err:
        parse_rules(bad, "r.yaml")
    assert err.value.line is not None
    assert "turn_below" in str(err.value)
    # either kind of marker is something to read (round 36: 不过 only at a clause's start)
    assert parse_rules(text.replace(markers, ""), "r.yaml").model is not None
