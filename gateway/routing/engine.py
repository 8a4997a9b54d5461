"""The compiled rule set: one Aho-Corasick pass over the text, then the rules in order.

All phrases of all rules go into one automaton, so the cost of matching grows with the
length of the text, not with the number of phrases; each rule is then a few set checks
on the phrases that occurred. The highest-priority rule whose conditions all hold wins
(ties: the earlier rule in the file); nothing matched → the default (a human triages).
"""

from __future__ import annotations

import fnmatch
import hashlib
import operator
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, reduce
from itertools import repeat
from pathlib import Path
from typing import Protocol, Self, TypeVar
from zoneinfo import ZoneInfo

import ahocorasick

from contracts import Alert, Channel, Destination, RoutingDecision, utcnow
from gateway.routing.fallback import FALLBACK_MODEL_FILE, FallbackModel
from gateway.routing.normalise import clause_start_finder, normalise, to_simplified
from gateway.routing.rules import (
    DEFAULT_RULES_FILE,
    SET_REF,
    ModelArbiter,
    Rule,
    RulesError,
    RuleSet,
    load_rules_file,
    parse_rules,
)
from gateway.routing.text_model import TEXT_MODEL_FILE, TextModel

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
FALLBACK_RULE = "fallback.nb-12345"
FALLBACK_CATEGORY = "service.classified-statistically"
VETO_RULE = "safety.veto-12345"
VETO_CATEGORY_PREFIX = "vetoed."
DANGER_RULE = "safety.danger-12345"
MODEL_VETO_RULE = "safety.model-veto"
TURN_RULE = "safety.turn-12345"
MODEL_RULE_PREFIX = "model."
# the category of a decision the text model made, per destination
MODEL_CATEGORIES = {
    Destination.HOTLINE_12345: FALLBACK_CATEGORY,
    Destination.COMMAND_CENTRE: "emergency.classified-statistically",
    Destination.MARITIME_SAR: "sea.classified-statistically",
    Destination.OCEAN_FISHERY: "sea.fishery.classified-statistically",
}
EMERGENCY_CENTRES = (Destination.COMMAND_CENTRE, Destination.MARITIME_SAR,
                     Destination.OCEAN_FISHERY)
SEA_CENTRES = frozenset({Destination.MARITIME_SAR, Destination.OCEAN_FISHERY})


class _ModelFile(Protocol):
    @classmethod
    def load(cls, path: Path) -> Self: ...


_M = TypeVar("_M", bound=_ModelFile)


@lru_cache(maxsize=8)
def _loaded(kind: type[_M], path: Path, mtime_ns: int) -> _M:
    """One model object per kind and file version, shared by every engine (hot reload,
    tests): a file changed on disk is read again."""
    return kind.load(path)


def _load_model(kind: type[_M], path: Path, source: str, what: str) -> _M:
    try:
        model: _M = _loaded(kind, path, path.stat().st_mtime_ns)  # lru_cache erases the type
        return model
    except (OSError, ValueError, KeyError) as exc:
        raise RulesError(f"{what}: {exc}", source=source) from None


def load_text_model(source: str, path: Path = TEXT_MODEL_FILE) -> TextModel:
    """The shipped text model (cached per file version); RulesError if unusable."""
    return _load_model(TextModel, path, source, "model enabled, but the text model is unusable")


def load_fallback(source: str, path: Path = FALLBACK_MODEL_FILE) -> FallbackModel:
    """The shipped fallback model (cached per file version); RulesError if unusable."""
    return _load_model(FallbackModel, path, source, "fallback enabled, but the model is unusable")


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What the rules look at, taken from an alert (or a dry-run request)."""

    text: str
    channel: Channel | None = None
    called: str | None = None
    category: str | None = None
    at_sea: bool = False
    jurisdiction: str | None = None
    received_at: datetime | None = None
    # the text is only the name of a shared location (a WeChat map label), not a report:
    # a place says nothing about what happens there, so the statistical fallback (which
    # has learnt that addresses are common in 12345 complaints) must not place it
    place_only: bool = False

    @classmethod
    def from_alert(cls, alert: Alert) -> AlertFacts:
        address = (alert.location.address or "").strip() if alert.location else ""
        return cls(
            text=alert.text,
            channel=alert.channel,
            called=alert.called,
            category=alert.category,
            at_sea=bool(alert.location and alert.location.at_sea),
            jurisdiction=alert.jurisdiction,
            received_at=alert.received_at,
            place_only=bool(address) and alert.text.strip() == address,
        )


@dataclass(frozen=True, slots=True)
class _Defuse:
    id: str
    any: frozenset[int]
    groups: tuple[frozenset[int], ...]
    none: frozenset[int]
    acute: bool = False
    # `leads`: phrase id → length of the first group's phrases, which must start before
    # every danger word (empty: no order; see `RuleEngine._holds`)
    lead: dict[int, int] = field(default_factory=dict)

    def holds(self, hits: dict[int, int]) -> bool:
        """Whether its phrase conditions hold (the order of a `leads` context aside)."""
        if self.any and self.any.isdisjoint(hits):
            return False
        if any(g.isdisjoint(hits) for g in self.groups):
            return False
        return self.none.isdisjoint(hits)

    def lead_start(self, hits: dict[int, int]) -> int:
        """Where its first group's earliest phrase starts (it holds: one occurred)."""
        return min(hits[p] - n + 1 for p, n in self.lead.items() if p in hits)


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    order: int
    any: frozenset[int]
    groups: tuple[frozenset[int], ...]
    none: frozenset[int]
    reported: frozenset[int]


@dataclass(frozen=True, slots=True)
class _Check:
    """What `_decide` still tests for a candidate rule, precomputed once per rule set.

    A rule is a candidate only when a phrase of its gate (`any`, else the first `all`
    group) occurred, so the gate itself is not tested again; what is left is `rest`
    (the `all` groups the gate does not imply) and `none`. The flags spare attribute
    chains and calls per alert."""

    rule: Rule
    rest: tuple[frozenset[int], ...]
    none: frozenset[int]
    # an emergency rule a defuse context stands down (not one keyed on category/at_sea)
    defusable: bool
    # any condition on the alert's facts (channel, called, category, …): `_facts_hold`
    facts: bool
    # phrase id → position in `reported`'s iteration order: `matched` is sorted by text
    # position, ties in that order (as a stable sort over `reported` gave them)
    rank: dict[int, int]


def _vetoed(
    decision: RoutingDecision, rule: str, matched: list[str] | None = None
) -> RoutingDecision:
    """A 12345 decision a safety check moved to the command centre: the check's rule, the
    decision's category under `vetoed.`, its phrases (or `matched`) and its priority."""
    return RoutingDecision(
        destination=Destination.COMMAND_CENTRE,
        category=VETO_CATEGORY_PREFIX + decision.category,
        rule=rule,
        matched=decision.matched if matched is None else matched,
        emergency=True,
        priority=decision.priority,
    )


def _bits(mask: int) -> list[int]:
    """The indices of the set bits of `mask`, lowest first."""
    out: list[int] = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _gate_masks(gates: list[frozenset[int]]) -> tuple[dict[int, int], int]:
    """Phrase id → bitmask of the items (bit i = gates[i]) that phrase opens, and the
    mask of the items with no gate (always candidates)."""
    by_phrase: dict[int, int] = {}
    gateless = 0
    for i, gate in enumerate(gates):
        if not gate:
            gateless |= 1 << i
        for pid in gate:
            by_phrase[pid] = by_phrase.get(pid, 0) | 1 << i
    return by_phrase, gateless


class RuleEngine:
    """An immutable, compiled rule set; safe to share between tasks and swap whole."""

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        source: str = "<rules>",
        digest: str = "",
        model: FallbackModel | None = None,
        text_model: TextModel | None = None,
    ) -> None:
        """`model` and `text_model` replace the shipped models (cross-validation and the
        arrival replay use them)."""
        self.ruleset = ruleset
        self.source = source
        self.digest = digest
        self._phrase_ids: dict[str, int] = {}
        self._phrases: list[str] = []
        compiled = [self._compile(i, rule) for i, rule in enumerate(ruleset.rules)]
        self._defuse = [
            _Defuse(
                d.id,
                self._ids(d.id, d.any),
                tuple(self._ids(d.id, g) for g in d.groups()),
                self._ids(d.id, d.none),
                d.acute,
                self._lengths_of(d.id, d.groups()[0]) if d.leads else {},
            )
            for d in ruleset.defuse
        ]
        self._acute_defuse = [d for d in self._defuse if d.acute]
        # Mask phrases: an occurrence of another phrase inside one of theirs is ignored.
        self._masks = self._ids("masks", list(ruleset.masks))
        # Negated emergency phrases (没受伤) are masked too; "有没有受伤" (a question) is not.
        self._negated: dict[int, tuple[str, ...]] = {}
        self._not_after: tuple[str, ...] = ()
        if ruleset.negation is not None:
            self._negated, self._not_after = self._negations(ruleset, compiled)
        # the first characters of the negations, one regex class: a single C-level scan
        # tells whether a negation can occur at all (most texts: none)
        starts = sorted({n[0] for ps in self._negated.values() for n in ps})
        self._negation_starts: re.Pattern[str] | None = (
            re.compile(f"[{''.join(map(re.escape, starts))}]") if starts else None
        )
        # A negation ends right before the phrase it hides: when the character there is
        # no prefix's last one, no prefix needs trying (most occurrences, for 有/人 aside).
        self._negation_ends = frozenset(n[-1] for ps in self._negated.values() for n in ps)
        self._lengths: list[int] = []
        self._rules = sorted(compiled, key=lambda c: (-c.rule.priority, c.order))
        # Which rules can fire at all given the phrases found: a rule with phrase
        # conditions needs one of its `any` (or first `all` group) phrases to occur.
        # Bit i of a mask stands for self._rules[i], so the lowest set bit of the OR of
        # the hits' masks is the next candidate in priority order (no set, no sort).
        self._gate_mask, self._phraseless_mask = _gate_masks(
            [c.any or (c.groups[0] if c.groups else frozenset()) for c in self._rules]
        )
        self._checks = [self._check(c) for c in self._rules]
        # The same for the defuse contexts, tried in file order.
        self._defuse_gate, self._defuse_gateless = _gate_masks(
            [d.any or (d.groups[0] if d.groups else frozenset()) for d in self._defuse]
        )
        # The text model may send an emergency to a sea centre only with one of these.
        self._sea_words = (
            self._ids("model", list(ruleset.model.sea_words)) if ruleset.model else frozenset()
        )
        # …and never with one of these (a boat on a park lake, a river's dredger)
        self._inland_words = (
            self._ids("model", list(ruleset.model.inland_words)) if ruleset.model else frozenset()
        )
        # Words that open a turn to another matter (`ModelArbiter.turn_below`), normalised
        self._turn_markers = tuple(
            m for m in (normalise(x) for x in (ruleset.model.turn_markers if ruleset.model else []))
            if m
        )
        # …and those that open one only at a clause's start (`clause_turn_markers`)
        clause_turns = ruleset.model.clause_turn_markers if ruleset.model else []
        self._clause_turns = clause_start_finder(clause_turns) if clause_turns else None
        self._clause_turn_words = tuple(w for w in map(normalise, clause_turns) if w)
        # The fallback stands down when any phrase of an emergency rule occurs (even if
        # the rule's other conditions do not hold), or any of `fallback.none`.
        guard = self._ids("fallback", list(ruleset.fallback.none))
        self._fallback_guard = guard.union(*(c.reported for c in compiled if c.rule.emergency))
        self._automaton = ahocorasick.Automaton()
        for phrase, pid in self._phrase_ids.items():
            self._automaton.add_word(phrase, pid)
        self._lengths = [len(p) for p in self._phrases]
        if self._phrases:
            self._automaton.make_automaton()
        fallback = ruleset.fallback
        if model is None and (fallback.enabled or fallback.veto_below is not None):
            model = load_fallback(source)
        self._fallback = model if fallback.enabled else None
        self._veto = model if fallback.veto_below is not None else None
        if model is not None and (fallback.enabled or fallback.veto_below is not None):
            model.warm()  # its scoring automaton: built now, not on the first alert
        self._veto_below = fallback.veto_below if fallback.veto_below is not None else 0.0
        self._acute: set[str] = set()
        self._danger, self._danger_defused = self._compile_danger(ruleset)
        self._present = self._compile_present(ruleset)
        self._arbiter: ModelArbiter | None = (
            ruleset.model if ruleset.model is not None and ruleset.model.enabled else None)
        self._text_model: TextModel | None = None
        self._class_index: dict[Destination, int] = {}
        self._hotline_index = 0
        if self._arbiter is not None:
            self._text_model = text_model or load_text_model(source)
            self._text_model.warm()
            self._class_index = {c: i for i, c in enumerate(self._text_model.classes)}
            if set(self._class_index) != set(Destination):
                raise RulesError("the text model must score every destination", source=source)
            self._hotline_index = self._class_index[Destination.HOTLINE_12345]
        # rules that decide from facts (an operator's category, a place at sea, the
        # number called…): the text model never second-guesses them
        self._fact_rules = frozenset(
            r.id for r in ruleset.rules
            if r.when.category or r.when.at_sea is not None or r.when.called
            or r.when.jurisdiction or r.when.channel
        )

    def _negations(
        self, ruleset: RuleSet, compiled: list[_Compiled]
    ) -> tuple[dict[int, tuple[str, ...]], tuple[str, ...]]:
        """For every phrase of an emergency rule (not in `keep`), the negation prefixes
        that hide it, longest first, except those with which it makes another phrase
        (没呼吸 is evidence, not a negation). Checked on the text, not compiled into the
        automaton (no extra patterns)."""
        neg = ruleset.negation
        assert neg is not None
        prefixes = sorted({normalise(p) for p in neg.prefixes} - {""}, key=lambda p: (-len(p), p))
        after = tuple(sorted({normalise(a) for a in neg.not_after} - {""}))
        keep = {normalise(k) for k in neg.keep}
        out: dict[int, tuple[str, ...]] = {}
        for pid in sorted({pid for c in compiled if c.rule.emergency for pid in c.reported}):
            phrase = self._phrases[pid]
            if phrase in keep:
                continue
            allowed = tuple(n for n in prefixes if n + phrase not in self._phrase_ids)
            if allowed:
                out[pid] = allowed
        return out, after

    def _negated_spans(
        self, text: str, occurrences: list[tuple[int, int]]
    ) -> list[tuple[int, int, int]]:
        """Spans (negation + phrase) of the negated emergency phrases in the text."""
        spans: list[tuple[int, int, int]] = []
        negated = self._negated
        lengths = self._lengths
        ends = self._negation_ends
        for end, pid in occurrences:
            prefixes = negated.get(pid)
            if prefixes is None:
                continue
            start = end - lengths[pid] + 1
            if start == 0 or text[start - 1] not in ends:
                continue
            for n in prefixes:
                s0 = start - len(n)
                if s0 >= 0 and text.startswith(n, s0):
                    if not any(text.startswith(a, s0 - len(a)) for a in self._not_after
                               if s0 >= len(a)):
                        spans.append((s0, end, -1))
                    break
        return spans

    def _compile_danger(self, ruleset: RuleSet) -> tuple[ahocorasick.Automaton | None, bool]:
        """One automaton for the danger veto: its words (value `(length, True, word)`) and
        the compounds that hide them (`unless`, the rules' `masks`, and every negation +
        word)."""
        dv = ruleset.danger_veto
        if dv is None:
            return None, False
        words: set[str] = set()
        self._acute = {normalise(a) for a in dv.acute} - {""}  # also danger words
        for raw in [*dv.words, *dv.acute]:
            norm = normalise(raw)
            if not norm:
                raise RulesError(f"danger_veto: word {raw!r} is empty once normalised",
                                 source=self.source)
            words.add(norm)
        negations = {normalise(n) for n in dv.negations} - {""}
        unless = {normalise(u) for u in [*dv.unless, *ruleset.masks]}
        unless |= {n + w for n in negations for w in words}
        negated = {n + w for n in negations for w in words}
        unless |= negated
        explicit = {normalise(u) for u in [*dv.unless, *ruleset.masks]}
        # value: (length, kind, phrase); kind 1 = a word, 0 = a hiding compound, 2 = a
        # negation + word compound (hides unless it is a question: 有没有受伤)
        automaton = ahocorasick.Automaton()
        for w in sorted(words):
            automaton.add_word(w, (len(w), 1, w))
        for u in sorted(unless - words - {""}):  # a listed word is never hidden by itself
            automaton.add_word(u, (len(u), 0 if u in explicit or u not in negated else 2, u))
        automaton.make_automaton()
        return automaton, dv.defused

    @staticmethod
    def _compile_present(ruleset: RuleSet) -> list[tuple[str, tuple[tuple[str, int], ...]]]:
        """Each present marker with the masks that contain it (and where), so that an
        occurrence inside a mask (到现在) is skipped."""
        dv = ruleset.danger_veto
        if dv is None:
            return []
        masks = [m for m in (normalise(x) for x in ruleset.masks) if m]
        out = []
        for raw in dv.present:
            marker = normalise(raw)
            if not marker:
                continue
            hiding = tuple(
                (m, i) for m in masks for i in range(len(m)) if m.startswith(marker, i)
            )
            out.append((marker, hiding))
        return out

    def _present_from(self, text: str) -> int | None:
        """Where the first present marker (outside a mask) starts, or None."""
        first: int | None = None
        for marker, hiding in self._present:
            i = text.find(marker)
            while i != -1 and (first is None or i < first):
                if not any(i >= off and text.startswith(m, i - off) for m, off in hiding):
                    first = i
                    break
                i = text.find(marker, i + 1)
        return first

    # ------------------------------------------------------------------ building

    @classmethod
    def from_text(cls, text: str, source: str = "<rules>") -> RuleEngine:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return cls(parse_rules(text, source), source=source, digest=digest)

    @classmethod
    def from_file(cls, path: Path | None = None) -> RuleEngine:
        """Load a rules file (the shipped default when `path` is None)."""
        path = path or DEFAULT_RULES_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RulesError(f"cannot read: {exc}", source=str(path)) from None
        return cls.from_text(text, source=str(path))

    def _ids(self, owner: str, phrases: list[str]) -> frozenset[int]:
        ids: set[int] = set()
        for raw in phrases:
            m = SET_REF.match(raw)
            expanded = self.ruleset.phrase_sets[m.group(1)] if m else [raw]
            for phrase in expanded:
                norm = normalise(phrase)
                if not norm:
                    raise RulesError(
                        f"{owner!r}: phrase {phrase!r} is empty once normalised",
                        source=self.source,
                    )
                pid = self._phrase_ids.get(norm)
                if pid is None:
                    pid = self._phrase_ids[norm] = len(self._phrases)
                    self._phrases.append(norm)
                ids.add(pid)
        return frozenset(ids)

    def _lengths_of(self, owner: str, phrases: list[str]) -> dict[int, int]:
        """Phrase id → length, for a `leads` context's first group."""
        return {p: len(self._phrases[p]) for p in self._ids(owner, phrases)}

    def _compile(self, order: int, rule: Rule) -> _Compiled:
        any_ids = self._ids(rule.id, rule.when.any)
        groups = tuple(self._ids(rule.id, g) for g in rule.when.groups())
        none_ids = self._ids(rule.id, rule.when.none)
        reported = any_ids.union(*groups) if groups else any_ids
        return _Compiled(rule, order, any_ids, groups, none_ids, reported)

    @staticmethod
    def _check(c: _Compiled) -> _Check:
        w = c.rule.when
        return _Check(
            rule=c.rule,
            rest=c.groups if c.any else c.groups[1:],
            none=c.none,
            defusable=c.rule.emergency and not w.category and not w.at_sea,
            facts=bool(w.channel or w.called or w.category or w.at_sea is not None
                       or w.jurisdiction or w.hours is not None),
            rank={pid: i for i, pid in enumerate(c.reported)},
        )

    # ------------------------------------------------------------------ using

    @property
    def rule_count(self) -> int:
        return len(self._rules)

    @property
    def phrase_count(self) -> int:
        return len(self._phrases)

    def hits(self, normalised_text: str) -> dict[int, int]:
        """Phrase id → end position of its first unmasked occurrence in the (normalised)
        text. An occurrence lying wholly inside an occurrence of a mask phrase (and not
        that mask occurrence itself) is ignored."""
        found: dict[int, int] = {}
        if not self._phrases or not normalised_text:
            return found
        if not self._masks and not self._negated:
            for end, pid in self._automaton.iter(normalised_text):
                if pid not in found:
                    found[pid] = end
            return found
        occurrences = list(self._automaton.iter(normalised_text))
        lengths = self._lengths
        masks = self._masks
        spans = [(end - lengths[pid] + 1, end, pid) for end, pid in occurrences if pid in masks]
        if self._negation_starts is not None and self._negation_starts.search(normalised_text):
            spans += self._negated_spans(normalised_text, occurrences)
        if not spans:
            for end, pid in occurrences:
                if pid not in found:
                    found[pid] = end
            return found
        for end, pid in occurrences:
            if pid in found:
                continue
            start = end - lengths[pid] + 1
            for s, e, m in spans:  # a plain loop: spans are few, a generator costs more
                if s <= start and end <= e and (s != start or e != end or m != pid):
                    break  # inside a mask (not that mask occurrence itself) or a negation
            else:
                found[pid] = end
        return found

    def defused_by(self, hits: dict[int, int], text: str | None = None) -> str | None:
        """The id of the first defuse context that holds (emergency rules stand down).
        Only contexts whose gate phrase occurred can hold, so only those are tried.
        `text` (normalised): a `leads` context holds only with it (see `_holds`)."""
        mask = reduce(operator.or_, map(self._defuse_gate.get, hits, repeat(0)),
                      self._defuse_gateless)
        defuse = self._defuse
        for i in _bits(mask):
            if self._holds(defuse[i], hits, text):
                return defuse[i].id
        return None

    def _holds(self, d: _Defuse, hits: dict[int, int], text: str | None) -> bool:
        """A context's phrase conditions, and for a `leads` one its order: its first group
        said before any danger word. The text is scanned for danger words only when all
        else holds (rare); without the text the order cannot be shown, so it does not hold."""
        if not d.holds(hits):
            return False
        if not d.lead:
            return True
        if text is None:
            return False
        first = self._first_danger_at(text)
        return first is None or d.lead_start(hits) < first

    def classify(self, facts: AlertFacts) -> RoutingDecision:
        """The routing decision for an alert: the first rule (by priority) that holds;
        when none does and the rules file enables it, the statistical fallback may send
        the alert to 12345 instead of the default (see `fallback.py`) — never an alert
        an operator or platform categorised, nor one located at sea, nor one with a
        danger word (`danger_veto`), nor a shared location with no words of its own
        (`place_only`: a human triages it). A rule's 12345
        decision the model finds unlikely (`fallback.veto_below`) goes to the command
        centre instead (the safety veto)."""
        return self._classify(facts, normalise(facts.text), None)

    def classify_many(self, many: Sequence[AlertFacts]) -> list[RoutingDecision]:
        """`classify` of each alert, the same decisions; the text model scores the whole
        batch at once (`TextModel.logits_many`), which is what makes a batch cheaper per
        alert (`linkgate route` on JSON lines)."""
        texts = [normalise(facts.text) for facts in many]
        none: list[None] = [None] * len(texts)
        nb = self._fallback or self._veto  # one model: both come from the same file
        estimates: Sequence[float | None] = nb.estimates_many(texts) if nb else none
        scores: Sequence[list[float] | None] = none
        if self._arbiter is not None and self._text_model is not None:
            scores = self._text_model.logits_many(texts)
        return [self._classify(f, t, s, e)
                for f, t, s, e in zip(many, texts, scores, estimates, strict=True)]

    def _classify(
        self, facts: AlertFacts, text: str, logits: list[float] | None,
        estimate: float | None = None,
    ) -> RoutingDecision:
        """`classify` of a normalised text; `logits` = the text model's and `estimate` =
        the fallback model's (`FallbackModel.estimates_many`), when already known."""
        hits = self.hits(text)
        decision = self._classify_by_rules(facts, hits, text, estimate)
        arbiter, model = self._arbiter, self._text_model
        if arbiter is None or facts.category or facts.at_sea or facts.place_only:
            return decision
        if decision.rule == VETO_RULE and arbiter.over_veto is not None and model:
            logits = model.logits(text) if logits is None else logits
            if model.share(logits, self._hotline_index) >= arbiter.over_veto:
                decision = self._classify_by_rules(facts, hits, text, estimate, nb_veto=False)
        return self._turned(
            decision, self._arbitrate(decision, text, hits, logits), text, facts.text
        )

    def _turned(
        self, before: RoutingDecision, after: RoutingDecision, text: str, raw: str
    ) -> RoutingDecision:
        """A 12345 decision stands only if the text after its last turn (`_turn_clause`),
        read alone, could be a 12345 matter too (`ModelArbiter.turn_below`): a long
        opening (thanks for last time) makes the whole text read as 12345 over the
        emergency told after the turn. Then the rules' decision before the model stands,
        or, when that was 12345 too, the command centre (a human) decides."""
        arbiter, model = self._arbiter, self._text_model
        if (
            after.destination is not Destination.HOTLINE_12345
            or arbiter is None
            or model is None
            or arbiter.turn_below is None
        ):
            return after
        clause = self._turn_clause(text, raw)
        if clause is None:
            return after
        if model.share(model.logits(clause), self._hotline_index) >= arbiter.turn_below:
            return after
        if before.destination is not Destination.HOTLINE_12345:
            return before
        return _vetoed(before, TURN_RULE)

    def _turn_clause(self, text: str, raw: str) -> str | None:
        """The normalised text after the last turn, the turn word left out (alone it leans
        to 12345); None when no turn follows an opening. A turn is a `turn_markers` word
        anywhere in the normalised text, or a `clause_turn_markers` word where the citizen
        started a clause (`raw`, the text as written, still has the spaces and punctuation
        that show it)."""
        start, marker = max(((text.rfind(m), m) for m in self._turn_markers),
                            default=(-1, ""))
        clause = text[start + len(marker):] if start > 0 else None
        if self._clause_turns is not None and any(w in text for w in self._clause_turn_words):
            simplified = to_simplified(raw)
            last = deque(self._clause_turns.finditer(simplified), maxlen=1)
            if last and normalise(simplified[:last[0].start(1)]):
                after = normalise(simplified[last[0].end(1):])
                if clause is None or len(after) < len(clause):
                    clause = after
        return clause

    def _classify_by_rules(
        self, facts: AlertFacts, hits: dict[int, int], text: str,
        estimate: float | None = None, nb_veto: bool = True,
    ) -> RoutingDecision:
        """The rules, their vetoes and the statistical fallback (see `classify`);
        `nb_veto=False`: no fallback veto (the text model judges 12345 decisions)."""
        decision = self._decide(facts, hits, text)
        if decision.destination is Destination.HOTLINE_12345 and facts.place_only:
            # a map label that happens to hold a 12345 word (物业, 社保局…) is still no report
            return self._default_decision()
        if decision.destination is Destination.HOTLINE_12345:
            return self._vetoed(decision, text, hits, estimate, nb_veto)
        fb = self._fallback
        if (
            fb is not None
            and decision.rule == "default"
            and not facts.category
            and not facts.at_sea
            and not facts.place_only
            and self._fallback_sees(hits, text)
            and fb.is_hotline(text, estimate)
        ):
            return RoutingDecision(
                destination=Destination.HOTLINE_12345,
                category=FALLBACK_CATEGORY,
                rule=FALLBACK_RULE,
                matched=fb.evidence(text),
                emergency=False,
                priority=0,
            )
        return decision

    def _arbitrate(
        self,
        decision: RoutingDecision,
        text: str,
        hits: dict[int, int],
        logits: list[float] | None = None,
    ) -> RoutingDecision:
        """The text model within the rules' safety bounds (`ModelArbiter` in the rules
        schema says what it may change, and why)."""
        arbiter, model = self._arbiter, self._text_model
        assert arbiter is not None and model is not None
        if decision.rule in self._fact_rules:
            return decision
        if not text:
            return decision  # nothing to read: the default, a human
        if logits is None:
            logits = model.logits(text)
        hotline = model.share(logits, self._hotline_index)
        centre = Destination.COMMAND_CENTRE
        if (
            arbiter.choose_centre
            and decision.rule not in arbiter.keep_ashore
            and not self._sea_words.isdisjoint(hits)
            and self._inland_words.isdisjoint(hits)
        ):
            # the likeliest emergency centre: the softmax keeps the scores' order
            centre = max(EMERGENCY_CENTRES, key=lambda c: logits[self._class_index[c]])
        current = decision.destination
        if current is Destination.HOTLINE_12345:
            if hotline >= arbiter.keep_hotline:
                return decision
            return RoutingDecision(
                destination=centre,
                category=VETO_CATEGORY_PREFIX + decision.category,
                rule=MODEL_VETO_RULE,
                matched=decision.matched,
                emergency=True,
                priority=decision.priority,
            )
        rule = decision.rule
        need = arbiter.hotline_unplaced if rule == "default" else arbiter.hotline_over_rule
        if current in SEA_CENTRES and arbiter.hotline_over_sea is not None:
            need = arbiter.hotline_over_sea
        short = len(text) < arbiter.min_chars  # too few words to out-weigh a rule or danger
        if (
            hotline >= need  # most alerts stop here: the danger checks cost more
            and not (short and rule != "default")
            and not rule.startswith("safety.")  # a safety veto's decision
            and not self.present_danger(text, hits)
            and (
                (hotline >= arbiter.hotline_over_danger and not short)
                or not self.danger_words(text, hits)
            )
        ):
            return self._model_decision(Destination.HOTLINE_12345, text, 0)
        if centre is current:
            return decision
        if (
            current is not Destination.COMMAND_CENTRE
            and rule not in arbiter.recentre_any
            and (rule not in arbiter.recentre or centre is Destination.COMMAND_CENTRE)
        ):
            return decision  # a sea rule's choice of centre stands, unless it is generic
        return self._model_decision(centre, text, decision.priority)

    def _model_decision(
        self, destination: Destination, text: str, priority: int
    ) -> RoutingDecision:
        model = self._text_model
        assert model is not None
        return RoutingDecision(
            destination=destination,
            category=MODEL_CATEGORIES[destination],
            rule=MODEL_RULE_PREFIX + destination.value,
            matched=model.evidence(text, destination),
            emergency=destination is not Destination.HOTLINE_12345,
            priority=priority,
        )

    def danger_words(self, normalised_text: str, hits: dict[int, int] | None = None) -> list[str]:
        """The danger veto's words that occur in the (normalised) text, in text order,
        outside any `unless`/negation compound; none in a defuse context (when the veto
        says so) or when the danger veto is off."""
        found = self._danger_found(normalised_text)
        if found and self._danger_defused and self._defuse:
            if hits is None:
                hits = self.hits(normalised_text)
            if self.defused_by(hits, normalised_text):
                # a defuse context stands down only dangers that may be past; an acute
                # one, or one told after a present marker, is happening now
                return self.present_danger(normalised_text, hits)
        return found

    def _danger_found(self, normalised_text: str, start_at: int = 0) -> list[str]:
        """The danger words in the text outside unless/negation compounds (no defuse),
        those starting at `start_at` or later."""
        return [word for _, word in self._danger_at(normalised_text, start_at)]

    def _first_danger_at(self, normalised_text: str) -> int | None:
        """Where the first danger word (outside unless/negation compounds) starts."""
        found = self._danger_at(normalised_text)
        return min(start for start, _ in found) if found else None

    def _danger_at(self, normalised_text: str, start_at: int = 0) -> list[tuple[int, str]]:
        """`_danger_found`'s words, each with where it first starts."""
        automaton = self._danger
        if automaton is None or not normalised_text:
            return []
        occurrences = list(automaton.iter(normalised_text))
        if not any(kind == 1 for _, (_, kind, _) in occurrences):
            return []
        after = self._not_after
        spans = [
            (end - n + 1, end) for end, (n, kind, _) in occurrences
            if kind == 0 or (kind == 2 and not any(
                normalised_text.startswith(a, end - n + 1 - len(a))
                for a in after if end - n + 1 >= len(a)))
        ]
        found: list[tuple[int, str]] = []
        seen: set[str] = set()
        for end, (n, kind, word) in occurrences:
            if kind != 1 or word in seen:
                continue
            start = end - n + 1
            if start < start_at or any(s <= start and end <= e for s, e in spans):
                continue
            seen.add(word)
            found.append((start, word))
        return found

    def acute_now(self, normalised_text: str) -> list[str]:
        """The `danger_veto.acute` words in the text (outside unless/negation compounds):
        a present danger no defuse context stands down."""
        if not self._acute:
            return []
        return [w for w in self._danger_found(normalised_text) if w in self._acute]

    def present_danger(
        self, normalised_text: str, hits: dict[int, int] | None = None
    ) -> list[str]:
        """What the defuse contexts do not stand down: the acute words (but in a context
        marked `acute`, a question about how a rescue seen days ago ended), and every
        danger word told after a present marker (去年投诉过漏水，现在天花板掉下来了).
        A present marker said inside a leading acute context's hypothetical (假如办事大厅里
        有人突然晕倒，打120还是110: 突然 after 假如) is part of the hypothetical, not now.
        `hits`: the text's phrase hits, when already known."""
        found = self.acute_now(normalised_text)
        start = self._present_from(normalised_text) if self._present else None
        if (found or start is not None) and self._acute_defuse:
            hits = self.hits(normalised_text) if hits is None else hits
            held = [d for d in self._acute_defuse if self._holds(d, hits, normalised_text)]
            if held:
                found = []
                if start is not None and any(d.lead and d.lead_start(hits) <= start
                                             for d in held):
                    start = None
        if start is not None:
            found += [w for w in self._danger_found(normalised_text, start) if w not in found]
        return found

    def would_veto(self, normalised_text: str) -> bool:
        """Whether either veto would move a 12345 rule decision on this text."""
        if self.danger_words(normalised_text):
            return True
        return self._veto is not None and self._veto.score_below(normalised_text, self._veto_below)

    def hotline_word_present(self, normalised_text: str) -> bool:
        """Whether the phrase conditions (`any`, `all`; not `none`) of some rule that
        sends to 12345 hold: the text carries an everyday 12345 word."""
        hits = self.hits(normalised_text)
        for c in self._rules:
            if c.rule.destination is not Destination.HOTLINE_12345:
                continue
            if not (c.any or c.groups):
                continue
            if c.any and c.any.isdisjoint(hits):
                continue
            if any(g.isdisjoint(hits) for g in c.groups):
                continue
            return True
        return False

    def _vetoed(
        self, decision: RoutingDecision, normalised_text: str, hits: dict[int, int],
        estimate: float | None = None, nb_veto: bool = True,
    ) -> RoutingDecision:
        """The safety vetoes: a rule's 12345 decision goes to the command centre, as an
        emergency, when a danger word occurs in the text (`danger_veto`; the words are
        added to `matched`) or else (`nb_veto`) when the model scores the text below
        `veto_below` (log-odds for 12345; `matched` kept). Anything else is returned
        unchanged."""
        danger = self.danger_words(normalised_text, hits)
        if danger:
            return _vetoed(decision, DANGER_RULE,
                           [*decision.matched, *(w for w in danger if w not in decision.matched)])
        veto = self._veto if nb_veto else None
        if veto is None or not veto.score_below(normalised_text, self._veto_below, estimate):
            return decision
        return _vetoed(decision, VETO_RULE)

    def veto_score(self, normalised_text: str) -> float | None:
        """The model's log-odds for 12345 as the veto sees them (None: veto off)."""
        return None if self._veto is None else self._veto.score(normalised_text)

    def classify_rules(self, facts: AlertFacts) -> RoutingDecision:
        """The decision of the rules alone (no statistical fallback)."""
        text = normalise(facts.text)
        return self._decide(facts, self.hits(text), text)

    def fallback_may_apply(self, normalised_text: str) -> bool:
        """Whether the fallback may judge this (normalised) text at all, enabled or not
        (`_fallback_sees`): the engine's own condition, which `train_fallback` also uses
        to choose the model's threshold on exactly the texts the model will see."""
        return self._fallback_sees(self.hits(normalised_text), normalised_text)

    def _fallback_sees(self, hits: dict[int, int], text: str) -> bool:
        """No danger word (`danger_words`), and either no phrase of an emergency rule nor
        of `fallback.none` — or a defuse context (an event that is over, a question about
        what to do if) that stood the emergency rules down; there `danger_words` keeps
        only a present danger, and `fallback.none` (救, 刚才, 突然…) is not asked: a story
        of what is over is told with those words (救出来了, 救援很及时)."""
        if not self._fallback_guard.isdisjoint(hits) and not (
            self._defuse and self.defused_by(hits, text) is not None
        ):
            return False
        return not self.danger_words(text, hits)

    def _decide(self, facts: AlertFacts, hits: dict[int, int], text: str) -> RoutingDecision:
        """The first rule, in priority order, whose conditions hold. Candidates are the
        rules whose gate phrase occurred (see `_Check`); every check is a pure function
        of the hits, the text and the facts, so testing the facts before the (lazily
        computed, costlier) defuse context changes no outcome."""
        mask = reduce(operator.or_, map(self._gate_mask.get, hits, repeat(0)),
                      self._phraseless_mask)
        checks = self._checks
        defused: bool | None = None if self._defuse else False  # computed when first needed
        while mask:
            low = mask & -mask
            mask ^= low
            i = low.bit_length() - 1
            k = checks[i]
            if k.rest and any(g.isdisjoint(hits) for g in k.rest):
                continue
            if k.none and not k.none.isdisjoint(hits):
                continue
            if k.facts and not self._facts_hold(k.rule, facts):
                continue
            if k.defusable:
                if defused is None:
                    defused = (self.defused_by(hits, text) is not None
                               and not self.present_danger(text, hits))
                if defused:
                    continue
            rank = k.rank
            matched = sorted([pid for pid in hits if pid in rank], key=rank.__getitem__)
            matched.sort(key=hits.__getitem__)
            rule = k.rule
            # validated, not `model_construct`: with pydantic 2.14 the validating
            # constructor is the faster of the two here (1.96 vs 2.47 us)
            return RoutingDecision(
                destination=rule.destination,
                category=rule.category,
                rule=rule.id,
                matched=[self._phrases[pid] for pid in matched],
                emergency=rule.emergency,
                priority=rule.priority,
            )
        return self._default_decision()

    def _default_decision(self) -> RoutingDecision:
        """Where an alert goes when no rule places it (the command centre: a human)."""
        d = self.ruleset.default
        return RoutingDecision(
            destination=d.destination,
            category=d.category,
            rule="default",
            matched=[],
            emergency=d.emergency,
            priority=0,
        )

    def classify_alert(self, alert: Alert) -> RoutingDecision:
        return self.classify(AlertFacts.from_alert(alert))

    @staticmethod
    def _facts_hold(rule: Rule, facts: AlertFacts) -> bool:
        w = rule.when
        if w.channel and facts.channel not in w.channel:
            return False
        if w.called and (facts.called or "").lstrip("+") not in {c.lstrip("+") for c in w.called}:
            return False
        if w.category and not (
            facts.category and any(fnmatch.fnmatchcase(facts.category, p) for p in w.category)
        ):
            return False
        if w.at_sea is not None and facts.at_sea != w.at_sea:
            return False
        if w.jurisdiction and facts.jurisdiction not in w.jurisdiction:
            return False
        if w.hours is not None:
            when = (facts.received_at or utcnow()).astimezone(LOCAL_TZ).time()
            if not w.hours.contains(when):
                return False
        return True


def load_engine(path: Path | None = None) -> RuleEngine:
    """The engine for a rules file (default rules when None); raises RulesError."""
    return RuleEngine.from_file(path)


__all__ = [
    "DANGER_RULE",
    "VETO_RULE",
    "AlertFacts",
    "RuleEngine",
    "RulesError",
    "load_engine",
    "load_rules_file",
]
