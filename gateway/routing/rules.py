"""The routing rules file: its schema, and loading it with errors that name the line.

A rules file (YAML, `LINKGATE_RULES_FILE`; default `gateway/rules/default.yaml`) lists
rules; the highest-priority rule whose conditions all hold decides the destination. Two
safety properties are checked at load, so that no edit can break them silently:

- every emergency rule outranks every rule that sends to 12345 (an emergency signal
  always beats a non-emergency one), and no emergency rule sends to 12345;
- the default (nothing matched) is not 12345: an unplaced alert goes to a human.

Two narrow ways let text that *names* a danger reach the non-emergency rules, each
explicit in the file and each checked at load:

- `masks`: compound phrases that hide the phrases inside them ("防溺水" hides "溺水",
  "没咬人" hides "咬"); a masked occurrence is not evidence for any rule. Another,
  unmasked occurrence of the same phrase still counts.
- `defuse`: contexts (an enquiry or complaint about something that happened before, and
  nothing acute now) in which the emergency rules stand down, so that the 12345 rules —
  with their own danger back-offs — or the default decide. A defuse must list what
  cancels it (`none`, at least one phrase): a past event with any present danger hint
  is not defused. Acute words (`danger_veto.acute`) stand down only in a context marked
  `acute: true` — a question about how a rescue seen days ago ended, or which number one
  would call if it happened. A context marked `leads: true` holds only when its first
  `all` group is said before any danger word (asked first, not a danger told first).
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts import Channel, Destination

PhraseList = list[Annotated[str, Field(min_length=1, max_length=200)]]
SET_REF = re.compile(r"^@([a-z0-9_\-]+)$")


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and line."""

    def __init__(self, message: str, *, source: str, line: int | None = None) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.detail = message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(_Strict):
    """A time-of-day window in local time (Asia/Shanghai); may wrap past midnight."""

    start: time
    end: time

    def contains(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class When(_Strict):
    """Conditions of a rule; all given conditions must hold.

    Phrases: `any` (at least one), `all` (one phrase from each group), `none` (none of
    these may occur). `@name` stands for a phrase set defined under `phrase_sets`.
    """

    any: PhraseList = Field(default_factory=list)
    all: list[PhraseList | str] = Field(default_factory=list)
    none: PhraseList = Field(default_factory=list)
    category: list[str] = Field(default_factory=list, description="glob patterns on the code")
    channel: list[Channel] = Field(default_factory=list)
    called: list[Annotated[str, Field(pattern=r"^\+?[0-9*#]{2,20}$")]] = Field(
        default_factory=list
    )
    at_sea: bool | None = None
    jurisdiction: list[str] = Field(default_factory=list)
    hours: Hours | None = None

    @field_validator("all")
    @classmethod
    def _groups(cls, value: list[list[str] | str]) -> list[list[str] | str]:
        for group in value:
            if isinstance(group, list) and not group:
                raise ValueError("an `all` group needs at least one phrase")
        return value

    @model_validator(mode="after")
    def _something(self) -> When:
        positive = (
            self.any or self.all or self.category or self.channel or self.called
            or self.at_sea is not None or self.jurisdiction or self.hours
        )
        if not positive:
            raise ValueError("a rule needs at least one condition besides `none`")
        return self

    def groups(self) -> list[list[str]]:
        """`all` as a list of groups (a bare string is a group of one)."""
        return [[g] if isinstance(g, str) else list(g) for g in self.all]


class Rule(_Strict):
    """One rule: conditions and the decision it makes."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._\-]{0,63}$")
    description: str = ""
    priority: int = Field(ge=0, le=100_000)
    destination: Destination
    category: str = Field(min_length=1, max_length=64)
    emergency: bool
    when: When

    @model_validator(mode="after")
    def _no_emergency_to_hotline(self) -> Rule:
        if self.emergency and self.destination is Destination.HOTLINE_12345:
            raise ValueError("an emergency rule must never send to 12345")
        return self


class Default(_Strict):
    """What happens when no rule matches: a human triages."""

    destination: Destination = Destination.COMMAND_CENTRE
    category: str = "unclassified"
    emergency: bool = True

    @field_validator("destination")
    @classmethod
    def _not_hotline(cls, value: Destination) -> Destination:
        if value is Destination.HOTLINE_12345:
            raise ValueError("unplaced alerts must not default to 12345")
        return value


class Defuse(_Strict):
    """A context in which the emergency rules stand down (see the module docstring)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._\-]{0,63}$")
    description: str = ""
    any: PhraseList = Field(default_factory=list)
    all: list[PhraseList | str] = Field(default_factory=list)
    none: PhraseList = Field(min_length=1)
    # The acute words stand down too: a story that is over told with one (上回那个从桥上
    # 跳下去的人后来救上来没有). A danger word told after a present marker still counts.
    acute: bool = False
    # Its first `all` group must be said before any danger word (如果看到有人要跳桥，打110
    # 还是… holds; 我女朋友说要自杀，要是报警打110还是… does not): a hypothetical asked
    # first, not a danger told and then a question.
    leads: bool = False

    @model_validator(mode="after")
    def _positive(self) -> Defuse:
        if not (self.any or self.all):
            raise ValueError("a defuse needs `any` or `all` phrases")
        if self.leads and not self.all:
            raise ValueError("`leads` needs an `all` group to lead")
        for group in self.all:
            if isinstance(group, list) and not group:
                raise ValueError("an `all` group needs at least one phrase")
        return self

    def groups(self) -> list[list[str]]:
        return [[g] if isinstance(g, str) else list(g) for g in self.all]


class Fallback(_Strict):
    """The statistical fallback (gateway/routing/fallback.py): an alert no rule places
    may go to 12345 instead of the default, if the model is confident enough and not one
    phrase of an emergency rule, nor of `none`, occurs in it."""

    enabled: bool = False
    none: PhraseList = Field(default_factory=list)
    # Safety veto (off when absent): a decision a *rule* sends to 12345 goes to the
    # command centre instead when the model's log-odds for 12345 are below this. It
    # only ever moves an alert away from 12345.
    veto_below: float | None = None


class DangerVeto(_Strict):
    """The danger veto (off when absent): a decision a *rule* sends to 12345 goes to the
    command centre when one of `words` (signs of harm to people now) occurs in the text,
    except an occurrence lying inside one of `unless` or of the top-level `masks`
    (compounds in which the word means no danger: 血压, 防溺水…) or right after one of
    `negations` (没有人受伤, 防止触电),
    and except in a `defuse` context (an enquiry about an event that is over) when
    `defused` is true. `acute` words (a danger that, once told, is happening now: can't
    breathe, chest crushing, being beaten as the caller watches) are danger words that no
    defuse context ever stands down — neither this veto nor the emergency rules: an
    enquiry opening does not make a present danger past. It only ever moves an alert away
    from 12345."""

    words: PhraseList = Field(min_length=1)
    acute: PhraseList = Field(default_factory=list)
    # Markers of the present (现在, 今天, 刚才…): a danger word told after one is happening
    # now, so no defuse context stands it down either (去年投诉过漏水，现在天花板掉下来了).
    # An occurrence inside one of the top-level `masks` (到现在: a complaint's duration)
    # is no marker.
    present: PhraseList = Field(default_factory=list)
    negations: PhraseList = Field(default_factory=list)
    unless: PhraseList = Field(default_factory=list)
    defused: bool = True

    @model_validator(mode="after")
    def _plain(self) -> DangerVeto:
        for phrase in [*self.words, *self.acute, *self.present, *self.negations, *self.unless]:
            if SET_REF.match(phrase):
                raise ValueError(f"danger_veto: {phrase!r}: write phrases out, not `@set`")
        return self


class Negation(_Strict):
    """Negated emergency phrases (没受伤, 没有人被困, 还没咬过人): every phrase of an
    emergency rule written right after one of `prefixes` is masked (no evidence for any
    rule), unless that compound is itself a phrase of some rule (没呼吸, 没回来), the
    phrase is in `keep`, or the negation is part of a question (`not_after` + prefix +
    phrase: 有没有受伤)."""

    prefixes: PhraseList = Field(min_length=1)
    not_after: PhraseList = Field(default_factory=list)
    keep: PhraseList = Field(default_factory=list)

    @model_validator(mode="after")
    def _plain(self) -> Negation:
        for phrase in [*self.prefixes, *self.not_after, *self.keep]:
            if SET_REF.match(phrase):
                raise ValueError(f"negation: {phrase!r}: write phrases out, not `@set`")
        return self


Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class ModelArbiter(_Strict):
    """The text model (gateway/routing/text_model.py) as an arbiter within the rules'
    safety bounds (off when absent). For a decision the words made — not one an
    operator's category, a location at sea, or another fact of a rule decided — with P
    the model's probability that the alert is a 12345 matter:
    - a 12345 decision of a rule (or of the fallback) stands when P ≥ `keep_hotline`,
      else it goes to an emergency centre (`safety.model-veto`);
    - an alert no rule placed goes to 12345 when P ≥ `hotline_unplaced`;
    - an emergency rule's decision goes to 12345 when P ≥ `hotline_over_rule`, or, when
      that decision names a sea centre, P ≥ `hotline_over_sea` (the 12345 platform has no
      boats: a fishing-gear or electric-fishing report read as an enquiry costs more);
    - with a danger word in the text (`danger_veto.words`), 12345 needs P ≥
      `hotline_over_danger` whatever the above; an acute danger, or one told after a
      present marker, or a safety veto's decision, never goes to 12345;
    - neither an emergency rule's decision nor a danger word is over-ruled in a text of
      fewer than `min_chars` characters (normalised): in a few characters the model reads
      an opening (我想…, 请问…) or its own prior louder than the danger — "我想自杀",
      "想死", "不能动", "suicide" all had P ≥ 0.95 (docs/routing.md, round 7);
    - `choose_centre`: an emergency the rules leave with the command centre (a rule's
      or the default) goes to a sea centre when the model finds it likelier and one of
      `sea_words` occurs and none of `inland_words` (no sea word, or a lake or a river
      named: a drowning in a river stays 110's, a rowing boat on a park lake too); a sea rule's
      choice of centre stands (a named cargo ship by a fish farm is maritime SAR's) unless
      the rule is in `recentre` (generic: a vessel in trouble, no craft named — a fish
      farm's work boat is the fishery's); a rule in `recentre_any` (a sea rule whose
      words also tell of emergencies ashore: 码头 and 受伤, 跨海大桥 and 追尾) may go to
      any emergency centre the model finds likelier, the command centre included; a
      rule in `keep_ashore` (a threat not yet carried out: someone who says they will
      jump or drive into the sea has not) stays with the command centre whatever the sea
      words;
    - `over_veto`: a rule's 12345 decision that the fallback's safety veto moved
      (`fallback.veto_below`) stands when P ≥ this (the danger veto always stands).
    It can send an alert to 12345 that the rules would not, so its thresholds are
    chosen by replaying fresh alerts as they arrived (docs/routing.md, round 6)."""

    # the defaults are the thresholds the replay chose (round 6d): `model: {}` is safe
    enabled: bool = True
    keep_hotline: Probability = 0.7
    hotline_unplaced: Probability = 0.8
    hotline_over_rule: Probability = 0.7
    hotline_over_danger: Probability = 0.95
    # a decision for a sea centre (boats, a farm, people at sea) the model would send to
    # 12345: this bar instead of `hotline_over_rule` (None: the same bar)
    hotline_over_sea: Probability | None = None
    min_chars: int = Field(12, ge=0, le=1000)
    choose_centre: bool = True
    sea_words: PhraseList = Field(default_factory=list)
    # …unless one of these names inland water (round 10d: a boat capsized on a park lake)
    inland_words: PhraseList = Field(default_factory=list)
    # generic sea rules (a vessel or a person in trouble, no craft named) whose choice
    # between the sea centres the model may revisit: a farm's work boat is the fishery's
    recentre: list[str] = Field(default_factory=list)
    # sea rules whose words also tell of emergencies ashore (a place by the sea and a
    # trouble word): the model may move their decision to any emergency centre
    recentre_any: list[str] = Field(default_factory=list)
    # command-centre rules whose decision `choose_centre` never moves to a sea centre: a
    # threat to jump into the sea is 110's until it is carried out (the brief, round 10)
    keep_ashore: list[str] = Field(default_factory=list)
    # a rule's 12345 decision the statistical fallback's veto moved (`fallback.veto_below`)
    # stands when the model is this sure (None: the veto stands): the Naive Bayes log-odds
    # grow with length, and "路灯又坏了" (7.5 < 8) was vetoed at P 0.99
    over_veto: Probability | None = None
    # a turn to another matter (可是, 但是): a 12345 decision does not stand when the text
    # after the last turn marker, read alone, has P below `turn_below` (None: off). The
    # whole text's P is its opening's: 我想谢谢上次那个民警，可是医院着火了 had P 0.956
    # (docs/routing.md, rounds 28-35: a probe of openers)
    turn_markers: PhraseList = Field(default_factory=list)
    # turn words that open a turn only at the start of a clause (after a space or a
    # punctuation mark, as the citizen typed it): 不过 is also inside words (推不过去)
    clause_turn_markers: PhraseList = Field(default_factory=list)
    turn_below: Probability | None = None

    @model_validator(mode="after")
    def _turn_needs_markers(self) -> ModelArbiter:
        if self.turn_below is not None and not (self.turn_markers or self.clause_turn_markers):
            raise ValueError("turn_below needs turn_markers or clause_turn_markers (the words"
                             " that open a turn)")
        return self


class RuleSet(_Strict):
    """The whole rules file."""

    version: int = Field(1, ge=1, le=1)
    default: Default = Field(default_factory=Default)
    phrase_sets: dict[str, PhraseList] = Field(default_factory=dict)
    masks: PhraseList = Field(default_factory=list)
    negation: Negation | None = None
    defuse: list[Defuse] = Field(default_factory=list)
    fallback: Fallback = Field(default_factory=lambda: Fallback())
    danger_veto: DangerVeto | None = None
    model: ModelArbiter | None = None
    rules: list[Rule] = Field(min_length=1)

    @field_validator("phrase_sets")
    @classmethod
    def _set_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name in value:
            if not re.fullmatch(r"[a-z0-9_\-]+", name):
                raise ValueError(f"phrase set name {name!r}: use a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _safety(self) -> RuleSet:
        for phrase in self.masks:
            if SET_REF.match(phrase):
                raise ValueError(f"masks: {phrase!r}: write mask phrases out, not `@set`")
        defuse_ids = [d.id for d in self.defuse]
        if len(set(defuse_ids)) != len(defuse_ids):
            raise ValueError("duplicate defuse id")
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        hotline = [r for r in self.rules if r.destination is Destination.HOTLINE_12345]
        emergency = [r for r in self.rules if r.emergency]
        if hotline and emergency:
            top_hotline = max(hotline, key=lambda r: r.priority)
            low_emergency = min(emergency, key=lambda r: r.priority)
            if low_emergency.priority <= top_hotline.priority:
                raise ValueError(
                    f"emergency rule {low_emergency.id!r} (priority {low_emergency.priority}) "
                    f"must outrank 12345 rule {top_hotline.id!r} "
                    f"(priority {top_hotline.priority})"
                )
        return self


# --------------------------------------------------------------------------- loading


def _node_line(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc` (the deepest one that exists)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    nxt = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _check_refs(ruleset: RuleSet, root: yaml.Node | None, source: str) -> None:
    """Every `@set` reference must name a defined phrase set."""
    owners: list[tuple[str, When | Defuse, tuple[int | str, ...]]] = [
        (f"rule {rule.id!r}", rule.when, ("rules", i, "when"))
        for i, rule in enumerate(ruleset.rules)
    ] + [(f"defuse {d.id!r}", d, ("defuse", i)) for i, d in enumerate(ruleset.defuse)]
    for owner, cond, base in owners:
        places: list[tuple[str, tuple[int | str, ...]]] = []
        for name in ("any", "none"):
            places += [(p, (name, j)) for j, p in enumerate(getattr(cond, name))]
        for g, group in enumerate(cond.all):
            if isinstance(group, str):
                places.append((group, ("all", g)))
            else:
                places += [(p, ("all", g, j)) for j, p in enumerate(group)]
        for phrase, sub in places:
            _check_ref(ruleset, root, source, owner, phrase, (*base, *sub))
    for j, phrase in enumerate(ruleset.fallback.none):
        _check_ref(ruleset, root, source, "fallback", phrase, ("fallback", "none", j))
    if ruleset.model is not None:
        for key in ("sea_words", "inland_words"):
            for j, phrase in enumerate(getattr(ruleset.model, key)):
                _check_ref(ruleset, root, source, "model", phrase, ("model", key, j))
        ids = {rule.id for rule in ruleset.rules}
        for key in ("recentre", "recentre_any", "keep_ashore"):
            for j, rule_id in enumerate(getattr(ruleset.model, key)):
                if rule_id not in ids:
                    raise RulesError(f"model: {key}: no rule {rule_id!r}", source=source,
                                     line=_node_line(root, ("model", key, j)))


def _check_ref(
    ruleset: RuleSet,
    root: yaml.Node | None,
    source: str,
    owner: str,
    phrase: str,
    loc: tuple[int | str, ...],
) -> None:
    m = SET_REF.match(phrase)
    if m and m.group(1) not in ruleset.phrase_sets:
        raise RulesError(
            f"{owner}: unknown phrase set {phrase!r}", source=source, line=_node_line(root, loc)
        )


# libyaml's safe loader when PyYAML has it (~10x faster: the default rules took ~0.7 s
# per parse in pure Python, paid at every start and hot reload), else PyYAML's own; both
# report the same problem marks, so a refusal names the same line.
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader)


def parse_rules(text: str, source: str = "<rules>") -> RuleSet:
    """Parse and validate a rules document; raise RulesError naming the line."""
    try:
        # one parse: the node tree (its marks name a refused field's line) and the data
        # built from it, as `yaml.load` does inside
        loader = _LOADER(text)
        try:
            root = loader.get_single_node()
            data: Any = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RulesError(f"YAML syntax: {exc.problem or exc}", source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise RulesError(f"YAML: {exc}", source=source) from None
    if not isinstance(data, dict):
        raise RulesError("a rules file is a mapping with `rules:`", source=source, line=1)
    try:
        ruleset = RuleSet.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if isinstance(p, int | str))
        path = ".".join(str(p) for p in loc) or "<root>"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise RulesError(
            f"{path}: {err['msg']}{more}", source=source, line=_node_line(root, loc)
        ) from None
    _check_refs(ruleset, root, source)
    return ruleset


def load_rules_file(path: Path) -> RuleSet:
    """Read and validate a rules file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read: {exc}", source=str(path)) from None
    return parse_rules(text, source=str(path))


DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "rules" / "default.yaml"
