"""The learned answer scorer: for each candidate sentence, the probability that it answers the
question; for the question, a calibrated confidence and the threshold below which to abstain.

Hand-set cut-offs on cosine similarity do not travel: a small multilingual embedder scores
sentences lower across languages, and lower still for a language pair nobody tuned on. So the
candidates are described by features that mean the same in every language (similarity centred
per language, ranks, shared names and numbers across scripts, whether the sentence holds a value
of the type the question asks for, form) and a linear model over them, fitted on XQuAD's training
articles by `rag train-scorer` both pointwise (each candidate's log-odds of answering) and
listwise (the answer's share of a softmax over its question's candidates), turns them into
probabilities. A second, small logistic fit on the question level makes the top candidate's
probability a calibrated confidence that the answer is right, and the abstention threshold is
chosen on the training split for a stated precision. The model is a small JSON file shipped in
the package.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag import lang as langmod
from rag.answerers import qtypes
from rag.answerers.relevance import RelevanceModel, load_relevance
from rag.checks.figures import Figure, extract
from rag.errors import ConfigError
from rag.ingest import text as textmod
from rag.stores.base import Filters, Sentence, Store

MODEL_PATH = Path(__file__).with_name("answer_model.json")

FEATURES = (
    "dense",  # cosine of question and sentence
    "z",  # the cosine in standard deviations above the other candidates' (per language)
    "z_gap",  # how far below the best candidate's z
    "dense_rank",  # 1 / (1 + rank by lifted cosine among the candidates)
    "chunk_rank",  # 1 / (1 + rank of the sentence's chunk in retrieval)
    "overlap",  # share of the question's stems in the sentence (same language only)
    "pivot_overlap",  # share of the question's words glossed to English found in the sentence's
    "pivot_available",  # both languages could be glossed (rag/retrieval/pivot.py)
    "names_shared",  # share of the question's names/codes/numbers in the sentence, any script
    "type_match",  # P(question type) summed over the types the sentence can fill
    "figure_missing",  # P(question wants a figure) when the sentence holds none
    "has_figure",
    "is_question",  # the article's own rhetorical question
    "is_heading",  # no sentence-final punctuation
    "is_short",  # under five tokens
    "log_tokens",
    "unknown_names",  # question names no article mentions (in any script)
    "unknown_words",  # question content words the index never uses (same language only)
    "relevance",  # the relevance network's logit (rag/answerers/relevance.py)
    "relevance_rank",  # 1 / (1 + rank by that logit among the candidates)
    "relevance_gap",  # how far below the best candidate's logit
)
# Columns filled from the relevance network after the rest (training fills them once the
# network is fitted, from the same helper).
RELEVANCE_FEATURES = ("relevance", "relevance_rank", "relevance_gap")
# What `rag train-scorer` fits the shipped model on (chosen by held-out measurement: eval/README.md).
SHIPPED_FEATURES = FEATURES

# What the confidence is calibrated from, per question: how probable the best candidate is,
# how clear its lead over the second, how far its cosine stands out, whether it is in another
# language than the question, how many of the question's words no article uses, and whether a
# question that wants a figure is answered by a sentence that has one, and the best candidate's
# share of all the candidates' evidence (a softmax over their logits, which the listwise fit
# makes meaningful), and how many of the question's names it mentions (a tuned embedder finds
# another company's order as close as the asked-for one's).
CALIBRATION_FEATURES = (
    "top_logit", "second_logit", "top_z", "cross", "unknown_words", "figure_for_figure_question",
    "top_share", "top_names_shared",
)  # fmt: skip
# confidence = the top probability: weight 1 on top_logit, 0 on the rest and on the bias
IDENTITY_CALIBRATOR = (1.0,) + (0.0,) * len(CALIBRATION_FEATURES)

_CODE = re.compile(r"\d|[A-Z].*[A-Z]")  # H200, HBM3E, NVIDIA, ByteDance


@dataclass(frozen=True)
class Candidate:
    """A sentence that might answer, with what the answerer needs to quote and frame it."""

    sentence: Sentence
    lang: str
    figures: tuple[Figure, ...]
    held: frozenset[str] = frozenset()  # the answer types this sentence can fill
    z: float = 0.0  # cosine in standard deviations above its language's mean
    names_shared: float = 1.0  # share of the question's names/codes/numbers it mentions


@dataclass
class QuestionContext:
    """What is computed once per question: its type, its names, what the index lacks."""

    type_probs: dict[str, float]
    question_lang: str
    asks_amount: bool  # the question's own words ask for an amount (lexicons, five languages)
    stems: set[str]
    names: list[set[str]]  # each name with its spellings across scripts, casefolded
    unknown_names: list[str]
    unknown_words: list[str]
    question: str = ""
    pivot: frozenset[str] | None = None  # the question's words glossed to English stems
    held_back: frozenset[str] = frozenset()  # languages whose dictionaries are not used
    # names whose absence from the articles means something, with their spellings (_checkable)
    checkable: list[tuple[str, set[str]]] = field(default_factory=list)


@dataclass
class AnswerModel:
    """Logistic regression over FEATURES, Platt calibration and the abstention threshold."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    calibrator: tuple[float, ...]  # weights over CALIBRATION_FEATURES, then a bias
    threshold: float
    target_precision: float
    type_model: dict[str, list[float]] | None
    embedder_id: str
    meta: dict[str, Any] = field(default_factory=dict)
    # Chosen on the training split with the threshold: how sure the type must be before only
    # sentences of that type may answer, and how probable a further quote must be (share of
    # the best one's probability).
    type_floor: float = 0.5
    keep_ratio: float = 0.6
    name: str = "answer_model.json"

    relevance: RelevanceModel | None = None  # fitted with it, read from relevance_model.npz

    @property
    def columns(self) -> list[int]:
        """Where this model's features sit in a full FEATURES row."""
        return [FEATURES.index(f) for f in self.features]

    @property
    def uses_relevance(self) -> bool:
        return any(f in RELEVANCE_FEATURES for f in self.features)

    def sentence_probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(answers) for each candidate, from full FEATURES rows."""
        z = ((x[:, self.columns] - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def confidence(self, features: Sequence[float]) -> float:
        """Calibrated P(the answer is right) from the question-level CALIBRATION_FEATURES."""
        *w, b = self.calibrator
        z = float(np.dot(w, features)) + b
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 2,
            "features": list(self.features),
            "relevance_model": _relevance_file(self.name) if self.uses_relevance else None,
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "weights": self.weights.round(6).tolist(),
            "bias": round(self.bias, 6),
            "calibration_features": list(CALIBRATION_FEATURES),
            "calibrator": [round(v, 6) for v in self.calibrator],
            "threshold": round(self.threshold, 4),
            "type_floor": self.type_floor,
            "keep_ratio": self.keep_ratio,
            "target_precision": self.target_precision,
            "embedder_id": self.embedder_id,
            "type_model": self.type_model,
            "meta": self.meta,
        }

    def save(self, path: Path) -> None:
        """The JSON file, and the relevance network beside it (`<stem>.relevance.npz`)."""
        self.name = path.name
        if self.uses_relevance:
            if self.relevance is None:
                raise ConfigError("an answer model that reads relevance needs its network")
            self.relevance.save(path.with_name(_relevance_file(path.name)))
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def from_json(
        cls, data: dict[str, Any], name: str, folder: Path = MODEL_PATH.parent
    ) -> AnswerModel:
        if (
            data.get("format") != 2
            or not set(data["features"]) <= set(FEATURES)
            or tuple(data.get("calibration_features", ())) != CALIBRATION_FEATURES
        ):
            raise ConfigError(
                f"the answer model {name} was built for other features: rebuild it with "
                "`rag train-scorer`"
            )
        return cls(
            features=tuple(data["features"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            calibrator=tuple(float(v) for v in data["calibrator"]),
            threshold=float(data["threshold"]),
            type_floor=float(data.get("type_floor", 0.5)),
            keep_ratio=float(data.get("keep_ratio", 0.6)),
            target_precision=float(data["target_precision"]),
            type_model=data.get("type_model"),
            embedder_id=str(data["embedder_id"]),
            meta=dict(data.get("meta", {})),
            name=name,
            relevance=(
                load_relevance(folder / data["relevance_model"])
                if data.get("relevance_model")
                else None
            ),
        )


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> AnswerModel:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"cannot read the answer model {path} ({err}): rebuild it with `rag train-scorer`"
        ) from None
    return AnswerModel.from_json(data, path.name, path.parent)


def _relevance_file(model_file: str) -> str:
    return f"{Path(model_file).stem}.relevance.npz"


# ------------------------------------------------------------------ features


def question_names(question: str, question_lang: str = "en") -> list[str]:
    """Names, product codes and numbers the question mentions, in any script: capitalised words
    after the first (which is capitalised anyway), codes like H200 or HBM3E, numbers, and
    Chinese words that CC-CEDICT lists as proper nouns. German capitalises every noun, so there
    a capitalised word counts only if it is a code or a name CC-CEDICT knows (Tencent)."""
    from rag.retrieval import dictionary

    found = [m.group(0) for m in textmod.NAME_TERM.finditer(question)]
    first = question.split(maxsplit=1)[0] if question.split() else ""
    if _CODE.search(first):  # a code or an acronym leads
        found.insert(0, first)
    if langmod.has_cjk(question):
        found = textmod.name_terms(question)
        found += [
            w
            for w in dictionary.segment_zh(question)
            if len(w) >= 2 and langmod.has_cjk(w) and dictionary.is_proper_name_zh(w)
        ]
    stripped = (n.strip(".,?!:;()\"'") for n in found)
    names = list(dict.fromkeys(part for n in stripped for part in _compound_parts(n)))
    if question_lang == "de":
        names = [n for n in names if _CODE.search(n) or dictionary.en_to_zh(n)]
    return [n for n in names if n]


def _compound_parts(name: str) -> list[str]:
    """A hyphenated compound's parts that are names or codes: `HBM3E-Speicher` is HBM3E's
    memory and `Alibaba-Aktie` Alibaba's share, and an article names HBM3E and Alibaba, not
    the compound. Numbers and ranges (50-60) stay whole."""
    if "-" not in name or not re.search(r"[^\W\d_]", name):
        return [name]
    parts = [p for p in name.split("-") if _CODE.search(p) or p[:1].isupper()]
    return parts or [name]


def names_only_beyond(
    question: str, question_lang: str, index: Store, scope: Filters, wider: Filters | None
) -> list[str]:
    """The question's names that no article in `scope` mentions but one in `wider` does: the
    one reason to look past the trusted articles (Kestrel Robotics' order is only in the
    article that is not trusted; the H200's bandwidth is not)."""
    found = []
    for name in question_names(question, question_lang):
        if _is_number(name):
            continue
        forms = _spellings(name) | set(_dotted(name))
        if not any(_known(index, f, scope) for f in forms) and any(
            _known(index, f, wider) for f in forms
        ):
            found.append(name)
    return found


def _is_number(name: str) -> bool:
    return re.fullmatch(r"[\d.,]+", name) is not None


def _spellings(name: str) -> set[str]:
    """The name casefolded, with its forms in other scripts (Tencent, 腾讯)."""
    from rag.retrieval import dictionary

    return {name.casefold(), *dictionary.name_variants(name)}


def _dotted(name: str) -> list[str]:
    """An acronym as newspapers also write it: US is U.S. in an English article."""
    if re.fullmatch(r"[A-Z]{2,4}", name):
        return [".".join(name.casefold()) + "."]
    return []


def _checkable(name: str, forms: set[str], question_lang: str, index: Store) -> bool:
    """Whether the articles' silence about a name means something: some spelling of it is in a
    script they are written in, and a Latin-script name is a code, has a form in another script
    (an international name: Tencent), or is written in a language the articles use (Estados
    Unidos is simply not how English articles say it)."""
    scripts = {lang in ("zh", "ja") for lang in index.langs}
    if not any(langmod.has_cjk(f) in scripts for f in forms):
        return False
    if langmod.has_cjk(name) or question_lang in index.langs:
        return True
    return bool(re.search(r"\d", name)) or len(forms) > 1


def _present(index: Store, tokens: Sequence[str], scope: Filters | None) -> bool:
    """Some chunk in scope (all chunks when `scope` is None) holds every one of `tokens`; an
    empty index cannot tell, so there everything counts as present."""
    return not index.chunks() or index.holds_terms(tokens, scope)


def _known(index: Store, spelling: str, scope: Filters | None) -> bool:
    """The articles in scope use this spelling: one of its stems, or for Chinese every
    character bigram of it within one chunk."""
    if langmod.has_cjk(spelling):
        return _present(index, textmod.cjk_bigrams(spelling), scope)
    tokens = textmod.lexical_tokens(spelling, index.langs)
    if "." in spelling:  # an acronym's letters (u.s.): all of them, in one chunk
        return _present(index, tokens, scope)
    return not tokens or any(_present(index, [t], scope) for t in tokens)


def _articles_name_all(
    candidates: Sequence[Candidate], context: QuestionContext, index: Store
) -> np.ndarray:
    """For each candidate, whether its article mentions every name the question asks about
    that it could spell (`_spelled_alike`): asked how many chips Tencent ordered, a sentence on
    Alibaba's order from an article that never names Tencent answers another question, however
    close its figure sits."""
    # What an article of each language could spell depends on the language, not the article
    expected = {
        lang: [forms for name, forms in context.checkable
               if _spelled_alike(name, forms, lang, context.question_lang, index)]
        for lang in {c.lang for c in candidates}
    }  # fmt: skip
    names_all: dict[str, bool] = {}
    for doc_id, lang in {(c.sentence.doc_id, c.lang) for c in candidates}:
        article = Filters(doc_ids=frozenset({doc_id}))
        names_all[doc_id] = all(
            any(_known(index, f, article) for f in forms) for forms in expected[lang]
        )
    return np.array([names_all[c.sentence.doc_id] for c in candidates])


def _spelled_alike(
    name: str, forms: set[str], article_lang: str, question_lang: str, index: Store
) -> bool:
    """Whether an article in `article_lang` would write `name` in one of `forms` if it named
    it: always in the question's language; in Chinese when a form is Chinese; in another
    Latin-script language when the name holds a digit (H200) or an article in a language other
    than the question's already writes it so (Tencent). KI is AI in English, USA is U.S."""
    if article_lang == question_lang or re.search(r"\d", name):
        return True
    cjk_article = article_lang in ("zh", "ja")
    if cjk_article or langmod.has_cjk(name):
        return any(langmod.has_cjk(f) == cjk_article for f in forms)
    others = set(index.langs) - {question_lang}
    return any(_known(index, name.casefold(), Filters(lang=lang)) for lang in others)


def question_context(
    question: str,
    question_lang: str,
    vector: np.ndarray,
    index: Store,
    type_model: dict[str, list[float]] | None,
    scope: Filters | None = None,
    held_back: frozenset[str] = frozenset(),
) -> QuestionContext:
    """`scope` filters the chunks the question may be answered from (filters, or in evaluation a
    removed gold paragraph): a name counts as known only if an article in scope uses it.
    `held_back`: languages whose dictionaries the pivot overlap may not use (evaluation)."""
    from rag.retrieval import pivot

    probs = qtypes.type_probabilities(question, vector, type_model)
    names = question_names(question, question_lang)
    spellings = [_spellings(n) for n in names]
    checkable = [
        (n, forms | set(_dotted(n)))
        for n, forms in zip(names, spellings, strict=True)
        if not _is_number(n) and _checkable(n, forms, question_lang, index)
    ]
    unknown = [n for n, forms in checkable if not any(_known(index, f, scope) for f in forms)]
    return QuestionContext(
        type_probs=probs,
        question_lang=question_lang,
        asks_amount=langmod.asks_for_quantity(question),
        stems=set(textmod.lexical_tokens(question, [question_lang])),
        names=spellings,
        unknown_names=unknown,
        unknown_words=_unknown_words(question, question_lang, index, scope),
        question=question,
        pivot=pivot.pivot_stems(question, question_lang, held_back),
        held_back=held_back,
        checkable=checkable,
    )


def _unknown_words(
    question: str, question_lang: str, index: Store, scope: Filters | None
) -> list[str]:
    """Content words of a question in a language the index holds that no article in scope
    uses: a question about "employees" over articles that never say it is rarely answerable."""
    if not index.chunks() or question_lang not in index.langs or langmod.has_cjk(question):
        return []
    content = textmod.NAME_TERM.sub(" ", f" {langmod.without_interrogatives(question)}")
    tokens = textmod.lexical_tokens(content, [question_lang])
    return [t for t in dict.fromkeys(tokens) if not t.isdigit() and not _present(index, [t], scope)]


@lru_cache(maxsize=100_000)
def _sentence_facts(
    text: str, lang: str
) -> tuple[tuple[Figure, ...], frozenset[str], int, str, frozenset[str]]:
    """A sentence's figures, stems, token count, folded text and the answer types it can fill;
    the same sentences come back question after question, so this is read once."""
    figures = tuple(extract(text, lang))
    tokens = textmod.lexical_tokens(text, [lang])
    has_name = bool(textmod.NAME_TERM.search(text))
    held = frozenset(qtypes.types_held(figures, has_name, text))
    return figures, frozenset(tokens), len(tokens), textmod.normalize(text), held


def candidates_and_features(
    evidence: Any, context: QuestionContext, relevance: RelevanceModel | None = None
) -> tuple[list[Candidate], np.ndarray]:
    """Every sentence of the retrieved chunks, with its feature row (the relevance columns
    zero without a relevance network)."""
    from rag.retrieval import pivot

    index: Store = evidence.index
    found = [(hit, s) for hit in evidence.hits for s in index.sentences_of(hit.chunk.chunk_id)]
    if not found:
        return [], np.empty((0, len(FEATURES)))
    ids = [s.sentence_id for _, s in found]
    langs = [hit.chunk.lang for hit, _ in found]
    dense, lifted, z = _similarities(index, evidence.query_vector, ids, langs)
    order = np.argsort(-lifted, kind="stable")
    rank_of = np.empty(len(found), dtype=np.int64)
    rank_of[order] = np.arange(len(found))
    best = float(z.max())
    wants_figure = qtypes.wants_figure(context.type_probs)
    candidates, matrix = [], []
    for i, (hit, sentence) in enumerate(found):
        lang = hit.chunk.lang
        figures, tokens, n_tokens, folded, held = _sentence_facts(sentence.text, lang)
        same = lang == evidence.question_lang
        overlap = len(context.stems & tokens) / max(1, len(context.stems)) if same else 0.0
        shared = sum(any(v in folded for v in forms) for forms in context.names)
        glossed = pivot.pivot_overlap(
            context.pivot, pivot.pivot_stems(sentence.text, lang, context.held_back)
        )
        stripped = sentence.text.rstrip()
        matrix.append([
            float(dense[i]),
            float(z[i]),
            best - float(z[i]),
            1.0 / (1 + rank_of[i]),
            1.0 / (1 + hit.rank),
            overlap,
            *glossed,
            shared / max(1, len(context.names)),
            sum(context.type_probs[t] for t in held),
            wants_figure if not figures else 0.0,
            float(bool(figures)),
            float(stripped.endswith(textmod.QUESTION_END)),
            float(not stripped.endswith(textmod.SENTENCE_END)),
            float(n_tokens < 5),
            math.log1p(n_tokens),
            float(len(context.unknown_names)),
            float(len(context.unknown_words)),
            0.0, 0.0, 0.0,
        ])  # fmt: skip
        share = shared / max(1, len(context.names))
        candidates.append(Candidate(sentence, lang, figures, held, float(z[i]), share))
    x = np.asarray(matrix, dtype=np.float64)
    if relevance is not None:
        logits = relevance.logits(evidence.query_vector, index.sentence_vectors_of(ids))
        set_relevance(x, logits)
    return candidates, x


def set_relevance(x: np.ndarray, logits: np.ndarray) -> None:
    """Fill the RELEVANCE_FEATURES columns of `x` from the network's logits: the logit, its rank
    and its gap to the best among the question's candidates (ranks and gaps read the same
    whatever the pair's level)."""
    order = np.argsort(-logits, kind="stable")
    rank = np.empty(len(logits), dtype=np.float64)
    rank[order] = np.arange(len(logits))
    first = FEATURES.index(RELEVANCE_FEATURES[0])
    x[:, first] = logits
    x[:, first + 1] = 1.0 / (1.0 + rank)
    x[:, first + 2] = float(logits.max()) - logits


def _similarities(
    index: Store, vector: np.ndarray, sentence_ids: list[str], langs: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cosines of the candidate sentences (`langs`: each one's chunk language): raw; lifted by
    the index-wide per-language shift (the centring retrieval uses, for ranking); and as z-scores among the candidates of the same
    language. The z-score reads the same whatever the language pair (cross-lingual cosines sit
    lower and closer) and whatever the corpus (in a set of articles on one topic every sentence
    is close to the question; among Wikipedia's many topics only a few are)."""
    raw = index.sentence_similarities(sentence_ids, vector).astype(np.float64)
    shift = index.language_shift(vector)
    lifted = raw + np.array([shift[lang] for lang in langs], dtype=np.float32)
    lang_of = np.array(langs)
    z = np.zeros_like(raw)
    for lang in np.unique(lang_of):
        mask = lang_of == lang
        spread = float(raw[mask].std()) if mask.sum() > 1 else 0.0
        z[mask] = (raw[mask] - raw[mask].mean()) / max(spread, 0.02)
    return raw, lifted, z


# ------------------------------------------------------------------ decisions


@dataclass(frozen=True)
class Decision:
    """Which candidates to quote (best first), how sure we are, and whether to abstain."""

    chosen: list[int]
    confidence: float
    abstain: bool
    reason: str = ""
    calibration_features: tuple[float, ...] = ()


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _share_of(i: int, probabilities: np.ndarray) -> float:
    """Candidate i's share of the question's candidates: a softmax over their logits."""
    p = np.clip(probabilities, 1e-9, 1 - 1e-9)
    logits = np.log(p / (1 - p))
    weights = np.exp(logits - logits.max())
    return float(weights[i] / weights.sum())


def decide(
    candidates: Sequence[Candidate],
    probabilities: np.ndarray,
    context: QuestionContext,
    model: AnswerModel,
    max_sentences: int = 3,
    store: Store | None = None,
    duplicate_cosine: float = 0.95,
) -> Decision:
    """The answer's sentences: the most probable candidate that can hold the asked-for type,
    then others close to it (probability over the model's `keep_ratio` of the best; where the
    most likely type is a figure's, only those holding one of that type, which then leads, and
    none naming fewer of the question's names than the best: the Chinese firms' total is not a
    second figure for Alibaba's order), no near-duplicates (sentences whose cosine in `store`
    is over `duplicate_cosine`). With a `store`, only sentences of articles naming what the
    question names.

    Abstains when the calibrated confidence is under the model's threshold, or when the
    question names something no article mentions.
    """
    if not candidates:
        return Decision([], 0.0, True, "no passage retrieved")
    kind = qtypes.best_type(context.type_probs)
    figure_kind = kind in qtypes.FIGURE_TYPES
    # Which candidates hold a value of the most likely kind (all of them for a non-figure kind)
    fills_kind = np.array(
        [not figure_kind or qtypes.can_fill(c.figures, c.held, kind) for c in candidates]
    )
    fits = np.ones(len(candidates), dtype=bool)
    if figure_kind and context.type_probs[kind] >= model.type_floor:
        fits = fills_kind
        missing = f"no passage gives a {kind}"
    elif context.asks_amount:  # "how much / wie viel / 多少": some figure, whatever its type
        fits = np.array([bool(c.held & set(qtypes.FIGURE_TYPES)) for c in candidates])
        missing = "no passage gives a figure"
    if not fits.any():
        return Decision([], 0.0, True, missing)
    if store is not None and context.checkable and not context.unknown_names:
        fits &= _articles_name_all(candidates, context, store)
        if not fits.any():
            names = ", ".join(n for n, _ in context.checkable)
            return Decision([], 0.0, True, f"no article naming all of {names} answers it")
    raw = np.asarray(probabilities, dtype=np.float64)
    probs = np.where(fits, raw, 0.0)
    order = [int(i) for i in np.argsort(-probs, kind="stable")]
    top = order[0]
    # The runner-up among all candidates, not only those of the asked-for type: where one
    # sentence alone holds a figure of that type, the rest would read as probability 0.
    others = np.delete(raw, top)
    features = (
        _logit(float(probs[top])),
        _logit(float(others.max())) if len(others) else _logit(0.0),
        candidates[top].z,
        float(candidates[top].lang != context.question_lang),
        float(len(context.unknown_words)),
        qtypes.wants_figure(context.type_probs) if bool(candidates[top].figures) else 0.0,
        _share_of(top, raw),
        candidates[top].names_shared,
    )
    confidence = model.confidence(features)
    if context.unknown_names:
        names = ", ".join(context.unknown_names)
        return Decision([], confidence, True, f"no article mentions {names}", features)
    if confidence < model.threshold:
        reason = "no passage answers it with enough confidence"
        return Decision([], confidence, True, reason, features)
    chosen = [top]
    for i in order[1:]:
        if len(chosen) >= max_sentences or probs[i] <= model.keep_ratio * probs[top]:
            break
        if not fills_kind[i]:
            continue  # a further quote must give a value of the most likely asked-for kind
        if candidates[i].names_shared < candidates[top].names_shared:
            continue  # ... and be about what the question names, as much as the lead is
        sentence_id = candidates[i].sentence.sentence_id
        if store is not None and any(
            store.sentence_cosine(sentence_id, candidates[j].sentence.sentence_id)
            > duplicate_cosine
            for j in chosen
        ):
            continue
        chosen.append(i)
    chosen.sort(key=lambda i: not fills_kind[i])  # the quote giving the asked-for kind leads
    return Decision(chosen, confidence, False, "", features)
