"""The text model (round 6) and the bounds the engine keeps it in.

The model decides nothing on its own: `RuleEngine._arbitrate` lets it change a decision of
the rules layer (rules, vetoes, fallback) only as `ModelArbiter` says. These tests hold
it to that on every labelled alert, check its scores against scikit-learn's own, and show
what a peer sees in a decision it made (rule, category, evidence).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from contracts import Channel, Destination
from gateway.routing import ngram_table
from gateway.routing.engine import (
    DANGER_RULE,
    MODEL_VETO_RULE,
    TURN_RULE,
    VETO_RULE,
    AlertFacts,
    RuleEngine,
    load_text_model,
)
from gateway.routing.normalise import normalise
from gateway.routing.rules import (
    DEFAULT_RULES_FILE,
    RulesError,
    RuleSet,
    load_rules_file,
    parse_rules,
)
from gateway.routing.text_model import TEXT_MODEL_FILE, TextModel

DATA = Path(__file__).resolve().parent / "data"
ENGINE = RuleEngine.from_file()
LAYER = RuleEngine(load_rules_file(DEFAULT_RULES_FILE).model_copy(update={"model": None}))
# the rules layer without the fallback's veto: what a decision the model lets stand
# against that veto (`over_veto`) was
_SHIPPED = load_rules_file(DEFAULT_RULES_FILE)
UNVETOED = RuleEngine(_SHIPPED.model_copy(update={
    "model": None, "fallback": _SHIPPED.fallback.model_copy(update={"veto_below": None})}))
FILES = sorted(p.relative_to(DATA).with_suffix("").as_posix() for p in DATA.rglob("*.jsonl"))
SEA = {Destination.MARITIME_SAR, Destination.OCEAN_FISHERY}


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / f"{name}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.mark.parametrize("name", FILES)
def test_the_model_only_moves_what_its_bounds_allow(name: str) -> None:
    """Per alert, the engine's decision against the rules layer's: where they differ,
    (a) a 12345 decision went to an emergency centre (the model's veto), or (b) an alert
    with no acute or present danger, not placed by a safety veto or a fact, went to 12345,
    or (c) an emergency the command centre had (or a generic sea rule's, `recentre`) went
    to a sea centre, the sea named, or (d) a sea rule's emergency that may tell of the
    shore (`recentre_any`) went to another emergency centre, or (e) a rule's 12345
    decision the fallback's veto had moved stands, the model sure of it (`over_veto`), or
    (f) a 12345 decision (the rules', or one the model kept against the fallback's veto)
    went to the command centre by the turn check (`turn_below`);
    a sea centre's decision goes to 12345 only over `hotline_over_sea`."""
    sea_words = ENGINE._sea_words
    arbiter, model = ENGINE.ruleset.model, ENGINE._text_model
    assert arbiter is not None and arbiter.over_veto is not None and model is not None
    assert arbiter.hotline_over_sea is not None
    for row in _rows(name):
        facts = AlertFacts(text=row["text"], channel=Channel(row["channel"]))
        before, after = LAYER.classify(facts), ENGINE.classify(facts)
        if after == before:
            continue
        p_hotline = model.probabilities(normalise(row["text"]))[Destination.HOTLINE_12345]
        if before.rule == VETO_RULE and after.destination is Destination.HOTLINE_12345:
            assert after == UNVETOED.classify(facts), (row, after)
            assert p_hotline >= arbiter.over_veto, (row, p_hotline)
            continue
        if before.destination in SEA and after.destination is Destination.HOTLINE_12345:
            assert p_hotline >= arbiter.hotline_over_sea, (row, before, p_hotline)
        if before.rule in arbiter.recentre_any and after.destination is not Destination.HOTLINE_12345:
            assert after.emergency and after.rule.startswith("model."), (row, before, after)
            continue
        text = normalise(row["text"])
        if after.rule in (MODEL_VETO_RULE, TURN_RULE):
            # (f) also takes back a 12345 decision that stood against the fallback's veto
            # (`over_veto`): the command centre's either way
            assert before.destination is Destination.HOTLINE_12345 or (
                after.rule == TURN_RULE and before.rule == VETO_RULE), (row, before)
            assert after.emergency and after.destination is not Destination.HOTLINE_12345
        elif after.destination is Destination.HOTLINE_12345:
            assert after.rule == "model.12345" and not after.emergency, after
            assert before.rule not in (VETO_RULE, DANGER_RULE), (row, before)
            assert not ENGINE.present_danger(text), row
        else:
            # from the command centre, or between the sea centres after a generic sea rule
            assert (before.destination is Destination.COMMAND_CENTRE
                    or before.rule in arbiter.recentre), (row, before, after)
            assert after.destination in SEA and after.emergency, after
            assert not sea_words.isdisjoint(ENGINE.hits(text)), row


def test_a_present_danger_never_goes_to_12345_whatever_the_model_says() -> None:
    """An enquiry opening the model reads as 12345, with an acute danger after it."""
    opening = "我想问下医保报销要带什么材料"
    p = ENGINE._text_model.probabilities(normalise(opening)) if ENGINE._text_model else {}
    assert p[Destination.HOTLINE_12345] > 0.9
    assert ENGINE.classify(AlertFacts(text=opening)).destination is Destination.HOTLINE_12345
    for danger in ["……我胸口压得慌，喘不上来", "，现在楼下着火了"]:
        d = ENGINE.classify(AlertFacts(text=opening + danger))
        assert d.destination is Destination.COMMAND_CENTRE and d.emergency, d


def test_a_decision_the_model_made_says_so() -> None:
    """What the routed message carries: the rule `model.<destination>`, a category of
    its own, and the n-grams that weighed most as `matched`."""
    made = [
        (row, d) for name in ("blind23", "blind24", "holdout/blind26") for row in _rows(name)
        if (d := ENGINE.classify(AlertFacts(text=row["text"], channel=Channel(row["channel"]))))
        .rule.startswith("model.")
    ]
    assert made
    for _, d in made:
        assert d.rule == f"model.{d.destination.value}"
        assert d.category.endswith("classified-statistically")
        assert d.matched and all(len(g) >= 2 for g in d.matched)
    # and it is mostly right where it acted (in sample for blind23/24, unseen for blind26)
    right = sum(d.destination.value == row["expected"] for row, d in made)
    assert right >= 0.8 * len(made), [(r["text"], d.destination.value) for r, d in made]



def test_evidence_is_the_heaviest_long_ngrams_ties_and_all() -> None:
    """`evidence` picks its few n-grams in numpy: the same list as sorting every known
    n-gram (≥ 2 characters, positive weight) by (weight, n-gram), largest first — on
    labelled texts for every centre, and on a model whose weights tie at the cut."""
    model = load_text_model("test")

    rows_by_model: dict[int, dict[str, int]] = {}

    def by_sorting(m: TextModel, text: str, dest: Destination, top: int = 5) -> list[str]:
        col = m.classes.index(dest) + 1
        if id(m) not in rows_by_model:
            rows_by_model[id(m)] = {g: i for i, g in enumerate(m.names)}
        row_of = rows_by_model[id(m)]
        grams = {text[i:i + n] for n in (2, 3) for i in range(len(text) - n + 1)}
        rows = {row_of[g] for g in grams if g in row_of}
        best = sorted(((float(m.table[i, col]), m.names[i]) for i in rows
                       if m.table[i, col] > 0), reverse=True)
        return [g for _, g in best[:top]]

    texts = [normalise(r["text"]) for r in _rows("blind23")[:40]]
    for text in texts:
        for dest in model.classes:
            assert model.evidence(text, dest) == by_sorting(model, text, dest)
    tied = TextModel(classes=model.classes, intercepts=model.intercepts,
                     names=("漏水", "水管", "管爆", "爆了", "了", "楼上"),
                     table=np.array([[1.0, 0.5, 0.5, 0.5, 0.5]] * 5
                                    + [[1.0, -0.5, 0.2, 0.2, 0.2]]))
    text = "楼上水管爆了漏水"
    for top in (1, 2, 3, 5):
        assert tied.evidence(text, model.classes[0], top) == by_sorting(
            tied, text, model.classes[0], top)
    # ties by the n-gram, largest code point first; 楼上 weighs against the first class
    assert tied.evidence(text, model.classes[0], 2) == ["管爆", "爆了"]
    assert tied.evidence(text, model.classes[1]) == ["管爆", "爆了", "漏水", "水管", "楼上"]

def test_facts_and_empty_texts_are_left_to_the_rules() -> None:
    text = "咨询一下社保转移"
    assert ENGINE.classify(AlertFacts(text=text)).destination is Destination.HOTLINE_12345
    for facts in [AlertFacts(text=text, category="emergency.reported"),
                  AlertFacts(text=text, at_sea=True),
                  AlertFacts(text="", channel=Channel.SMS),
                  AlertFacts(text="定海区东海路18号", place_only=True)]:
        assert ENGINE.classify(facts) == LAYER.classify(facts), facts


def test_a_drowning_with_no_sea_named_stays_with_the_command_centre() -> None:
    """The model may read 落水 as maritime; without a sea word the command centre keeps
    it (a river, a pond: 110's), while a named beach goes to maritime SAR."""
    assert ENGINE.classify(AlertFacts(text="有人落水了")).destination is Destination.COMMAND_CENTRE
    d = ENGINE.classify(AlertFacts(text="海边有个小孩抱着游泳圈漂出去了，大人追不上"))
    assert d.destination is Destination.MARITIME_SAR, d


def test_an_emergency_ashore_told_with_sea_words_goes_to_the_command_centre() -> None:
    """码头 and 跨海大桥 are sea places to `sea.person`, yet a container dropped on a
    lorry on the quay, or a pile-up on the sea bridge, is the command centre's: the model
    may move such a sea rule's decision to any emergency centre (`recentre_any`)."""
    for text in ["你好，我在码头集装箱堆场， 有个集装箱从吊机上掉下来了，下面有个司机在车里， 车被压扁了",
                 "跨海大桥上连环追尾了，好几辆车撞在一起，有人受伤流血了"]:
        facts = AlertFacts(text=text, channel=Channel.CALL)
        assert LAYER.classify(facts).destination is Destination.MARITIME_SAR, text
        d = ENGINE.classify(facts)
        assert d.destination is Destination.COMMAND_CENTRE and d.emergency, (text, d)
    # a person in the sea stays with maritime SAR
    d = ENGINE.classify(AlertFacts(text="海边礁石上有个人被浪卷下去了，在水里扑腾"))
    assert d.destination is Destination.MARITIME_SAR, d


def test_a_threat_to_go_into_the_sea_stays_with_the_command_centre() -> None:
    """Someone who says they will jump or drive into the sea has not yet: 110's (the
    writers' brief). The model, reading 海里, finds maritime SAR likelier and would move
    the suicide rule's decision there; `keep_ashore` keeps it. Once someone has jumped,
    a sea rule decides."""
    arbiter = ENGINE.ruleset.model
    assert arbiter is not None and "emergency.suicide" in arbiter.keep_ashore
    loose = RuleEngine(ENGINE.ruleset.model_copy(
        update={"model": arbiter.model_copy(update={"keep_ashore": []})}))
    for text in ["有人在跨海大桥上想自杀，还没跳，海上风浪很大", "他说要去死，一直往海里走",
                 "我跟老公吵架，他说要去死，开车出去了，说要冲进海里，电话打不通"]:
        d = ENGINE.classify(AlertFacts(text=text))
        assert d.destination is Destination.COMMAND_CENTRE and d.rule == "emergency.suicide", d
    for text in ["有人在跨海大桥上想自杀，还没跳，海上风浪很大", "他说要去死，一直往海里走"]:
        assert loose.classify(AlertFacts(text=text)).destination is Destination.MARITIME_SAR
    jumped = ENGINE.classify(AlertFacts(text="我朋友刚才从跨海大桥上跳下去了，掉进海里了"))
    assert jumped.destination is Destination.MARITIME_SAR and jumped.rule == "sea.person"


def test_a_boat_on_a_lake_or_a_river_stays_with_the_command_centre() -> None:
    """A rowing boat capsized on a park lake is 110's (the brief: drowning in a river,
    lake, reservoir, pond or canal); 船 is a sea word, and the model found maritime SAR
    likelier — `inland_words` keep the command centre's decision. A fishing boat at sea
    is still the fishery's."""
    arbiter = ENGINE.ruleset.model
    assert arbiter is not None and arbiter.inland_words == ["@inland_water"]
    loose = RuleEngine(ENGINE.ruleset.model_copy(
        update={"model": arbiter.model_copy(update={"inland_words": []})}))
    for text in ["公园湖面上的游船翻了，有人在水里扑腾", "湖上划船的小孩落水了",
                 "河里一条运沙船上有人掉下去了，没浮上来", "水库里有条小船翻了，船上的人掉水里了"]:
        d = ENGINE.classify(AlertFacts(text=text))
        assert d.destination is Destination.COMMAND_CENTRE and d.emergency, (text, d)
        # without the inland words the model takes it to a sea centre
        assert loose.classify(AlertFacts(text=text)).destination in {
            Destination.MARITIME_SAR, Destination.OCEAN_FISHERY}, text
    sea = ENGINE.classify(AlertFacts(text="渔船上有人掉进海里了"))
    assert sea.destination is Destination.OCEAN_FISHERY, sea


def test_a_sure_model_lets_a_rules_12345_decision_stand_against_the_fallback_veto() -> None:
    """The Naive Bayes veto's log-odds grow with length: "水管漏水了" scores under its
    bar ("路灯又坏了" did until round 9e's bar of 8), and the rules layer alone sends it to
    the command centre; the text model, sure of it (P ≥ `over_veto`), lets the rule's
    12345 decision stand. A danger word still moves one (the danger veto always stands),
    and an unsure model leaves the veto be."""
    facts = AlertFacts(text="水管漏水了")
    assert LAYER.classify(facts).rule == VETO_RULE
    d = ENGINE.classify(facts)
    assert d.destination is Destination.HOTLINE_12345 and d == UNVETOED.classify(facts), d
    arbiter = ENGINE.ruleset.model
    assert arbiter is not None
    strict = RuleEngine(ENGINE.ruleset.model_copy(
        update={"model": arbiter.model_copy(update={"over_veto": None})}))
    assert strict.classify(facts).rule == VETO_RULE
    d = ENGINE.classify(AlertFacts(text="路灯又坏了，灯杆倒下来压住人了"))
    assert d.destination is Destination.COMMAND_CENTRE and d.emergency, d


def test_runtime_scores_are_scikit_learns() -> None:
    """`TextModel` (no scikit-learn at run time) gives scikit-learn's probabilities for
    a model the training script fits, to the precision the file keeps (5 digits)."""
    pytest.importorskip("sklearn")
    from gateway.routing import train_text_model as ttm

    vectoriser, clf = ttm.fit(["dev", "blind9"])
    model = TextModel.from_dict(json.loads(json.dumps(ttm.export(vectoriser, clf, ["dev"]))))
    texts = [normalise(r["text"]) for r in _rows("blind10")[:200]]
    expected = clf.predict_proba(vectoriser.transform(texts))
    for text, row in zip(texts, expected, strict=True):
        got = model.probabilities(text)
        for cls, want in zip(clf.classes_, row, strict=True):
            assert got[Destination(cls)] == pytest.approx(want, abs=2e-4), text


def test_the_shipped_model_is_trained_on_every_labelled_file() -> None:
    from gateway.routing import train_fallback as tf

    data = json.loads(TEXT_MODEL_FILE.read_text(encoding="utf-8"))
    assert data["trained_on"] == tf.TRAIN
    assert set(data["classes"]) == {d.value for d in Destination}
    # 12.4 MB, 327k n-grams (9e); 14.3 MB, 379k (10e); 15.2 MB, 401k (11b: 107 files) —
    # it grows with the labelled data, ~0.1 MB per 300-alert file
    assert TEXT_MODEL_FILE.stat().st_size < 16_000_000


@pytest.mark.parametrize(
    ("section", "complaint"),
    [
        ("model:\n  keep_hotline: 1.5\n", "keep_hotline"),
        ("model:\n  hotline_unplaced: -0.1\n", "hotline_unplaced"),
        ("model:\n  sea_words: ['@nowhere']\n", "unknown phrase set"),
        ("model:\n  choose_centre: perhaps\n", "choose_centre"),
        ("model:\n  min_chars: -1\n", "min_chars"),
        ("model:\n  recentre_any: [sea.nowhere]\n", "recentre_any: no rule 'sea.nowhere'"),
        ("model:\n  keep_ashore: [emergency.nowhere]\n",
         "keep_ashore: no rule 'emergency.nowhere'"),
        ("model:\n  inland_words: ['@nowhere']\n", "unknown phrase set"),
        ("model:\n  over_veto: 2\n", "over_veto"),
        ("model:\n  hotline_over_sea: -1\n", "hotline_over_sea"),
    ],
)
def test_a_bad_model_section_is_refused_with_its_line(section: str, complaint: str) -> None:
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    start = text.index("\nmodel:\n") + 1
    end = text.index("\n\n", start) + 1
    bad = text[:start] + section + text[end:]
    with pytest.raises(RulesError) as err:
        parse_rules(bad)
    assert complaint in str(err.value)
    assert err.value.line is not None


def _phrases(ruleset: RuleSet, entries: list[str]) -> list[str]:
    out: list[str] = []
    for entry in entries:
        out += _phrases(ruleset, list(ruleset.phrase_sets[entry[1:]])) if entry.startswith("@") \
            else [entry]
    return out


def test_no_danger_word_in_a_few_characters_goes_to_12345() -> None:
    """In a short text the model reads an opening (我想…, 请问…) or its own prior louder
    than the danger: "我想自杀" went to 12345 at P 0.97 on arrival of blind37. Every danger
    and acute word of the rules file, alone and in nine short frames, stays out of 12345
    (a rule's decision, the danger veto, the model's bounds: whichever holds)."""
    ruleset = ENGINE.ruleset
    assert ruleset.danger_veto is not None
    words = set(_phrases(ruleset, list(ruleset.danger_veto.words)))
    words |= set(_phrases(ruleset, list(ruleset.danger_veto.acute)))
    assert len(words) > 700
    frames = ["{}", "我{}", "我想{}", "我要{}", "{}了", "有人{}", "我家{}", "快{}", "请问{}"]
    sent = [text for w in sorted(words) for f in frames
            if ENGINE.classify(AlertFacts(text=(text := f.format(w)))).destination
            is Destination.HOTLINE_12345]
    assert sent == []


@pytest.mark.parametrize("text", ["我想自杀", "我想死", "想死了", "我要跳楼", "不能动", "吓坏了",
                                  "suicide", "我想heart attack", "请问heart attack",
                                  "我car accident", "我想electric shock"])
def test_a_short_cry_is_never_a_hotline_matter(text: str) -> None:
    d = ENGINE.classify(AlertFacts(text=text))
    assert d.destination is Destination.COMMAND_CENTRE and d.emergency, d


def test_a_short_enquiry_is_still_read_by_the_model() -> None:
    """The length bar holds back only what would over-rule an emergency rule or a danger
    word: a short enquiry no rule placed still goes to 12345 by the model."""
    assert ENGINE.classify(AlertFacts(text="船員證咋換")).rule == "model.12345"


def test_no_model_section_means_no_arbiter() -> None:
    assert load_rules_file(DEFAULT_RULES_FILE).model is not None
    text = "我们社区的公园没有厕所，晚上也没灯"
    assert LAYER._text_model is None
    assert LAYER.classify(AlertFacts(text=text)).rule != "model.12345"


def test_an_unusable_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "text_model.json"
    bad.write_text('{"classes": ["12345"], "intercepts": [], "grams": {}}', encoding="utf-8")
    with pytest.raises(RulesError, match="text model is unusable"):
        load_text_model("rules.yaml", bad)
    with pytest.raises(RulesError, match="text model is unusable"):
        load_text_model("rules.yaml", tmp_path / "missing.json")


# --------------------------------------------------------------------------- batches


def test_a_batch_scores_every_text_as_one_alone() -> None:
    """`logits_many` (numpy over the whole batch) gives each text the scores `logits`
    (one automaton pass) gives it alone: every labelled text, in one batch and in
    batches of 7, plus texts with nothing known, a NUL, a lone surrogate, repeats."""
    model = load_text_model("test")
    texts = [normalise(r["text"]) for name in FILES for r in _rows(name)]
    texts += ["", "\x00", "\x00ab", "\ud800救命", "qqqq", "救命救命救命", ""]
    alone = [model.logits(t) for t in texts]
    for batch_size in (len(texts), 7):
        together = [s for i in range(0, len(texts), batch_size)
                    for s in model.logits_many(texts[i:i + batch_size])]
        for text, got, want in zip(texts, together, alone, strict=True):
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12), text
    assert model.logits_many([]) == []
    # a batch longer than one numpy pass takes is scored in parts, each text whole
    long = [texts[i % 50] * 80 for i in range(60)] + ["救" * 70_000, "", "路灯坏了"]
    assert sum(map(len, long)) > 2 * ngram_table.BATCH_CHARS
    for got, text in zip(model.logits_many(long), long, strict=True):
        assert got == pytest.approx(model.logits(text), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", ["blind10", "extra_g", "holdout/blind34", "adversarial"])
def test_a_batch_of_alerts_gets_the_decisions_each_gets_alone(name: str) -> None:
    facts = [AlertFacts(text=r["text"], channel=Channel(r["channel"])) for r in _rows(name)]
    facts += [AlertFacts(text="咨询医保", category="12345.medical-insurance"),
              AlertFacts(text="渔船进水了", at_sea=True), AlertFacts(text="")]
    assert ENGINE.classify_many(facts) == [ENGINE.classify(f) for f in facts]
    assert LAYER.classify_many(facts) == [LAYER.classify(f) for f in facts]
