"""The default answerer: quotes the article sentences that best answer the question; needs no
LLM weights and works offline."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from rag import lang as langmod
from rag.answerers import qtypes
from rag.answerers.base import Answerer
from rag.answerers.qtypes import TypeModel
from rag.answerers.quoting import (
    figure_differs,
    newest_first,
    quoted_answer,
    sentence_amounts,
)
from rag.answers import Answer, Evidence
from rag.checks.figures import Figure, mentions_amount, mentions_date
from rag.config import ExtractiveSettings
from rag.ingest import text as textmod
from rag.stores.base import MIN_SENTENCES_PER_LANG, Sentence, Store


@dataclass(frozen=True)
class ScoredSentence:
    sentence: Sentence
    score: float
    dense: float
    overlap: float
    has_figure: bool


class ExtractiveAnswerer(Answerer):
    """Picks the sentences that best answer the question and cites each one.

    A sentence's score is its embedding similarity to the question, plus lexical overlap (names,
    figures, stems), plus a small prior from its chunk's retrieval rank; a question asking for an
    amount prefers sentences with figures. Below the evidence bar it abstains rather than guess.
    """

    name = "extractive"

    def __init__(
        self, settings: ExtractiveSettings | None = None, type_model: TypeModel | None = None
    ) -> None:
        self.settings = settings or ExtractiveSettings()
        self._type_model = type_model

    def asked_type_probabilities(self, evidence: Evidence) -> dict[str, float]:
        """What the question asks for (qtypes), from the answer model's type classifier when
        it was fitted with this index's embedder, else from the lexicons alone."""
        model = self._type_model
        if model is None:
            from rag.answerers.scorer import load_model

            answer_model = load_model()
            same_embedder = answer_model.embedder_id == evidence.index.embedder_id
            model = self._type_model = answer_model.type_model if same_embedder else {}
        return qtypes.type_probabilities(evidence.question, evidence.query_vector, model or None)

    def score_sentences(self, evidence: Evidence) -> list[ScoredSentence]:
        index, s = evidence.index, self.settings
        wants_figure = langmod.asks_for_quantity(evidence.question)
        wants_date = langmod.asks_for_date(evidence.question)
        question_tokens = set(textmod.lexical_tokens(evidence.question, index.langs))
        scored = []
        for hit in evidence.hits:
            sentences = index.sentences_of(hit.chunk.chunk_id)
            if not sentences:
                continue
            ids = [s.sentence_id for s in sentences]
            dense = index.sentence_similarities(ids, evidence.query_vector)
            for sentence, sim in zip(sentences, dense, strict=True):
                tokens = set(textmod.lexical_tokens(sentence.text, [hit.chunk.lang]))
                overlap = len(question_tokens & tokens) / max(1, len(question_tokens))
                has_figure = mentions_amount(sentence.text)
                score = float(sim) + s.overlap_weight * overlap
                score += s.chunk_rank_weight / (1 + hit.rank)
                if wants_figure:
                    score += s.figure_bonus if has_figure else -s.figure_bonus
                if wants_date:
                    score += s.figure_bonus if mentions_date(sentence.text) else 0.0
                score -= self._form_penalty(sentence.text, len(tokens))
                scored.append(ScoredSentence(sentence, score, float(sim), overlap, has_figure))
        return sorted(scored, key=lambda x: -x.score)

    def unknown_terms(self, evidence: Evidence) -> tuple[list[str], list[str]]:
        """Question terms found nowhere in the index: (names, other words).

        Counted only for a language the index holds enough of (MIN_SENTENCES_PER_LANG
        sentences, as for the language shift): a same-language question about "employees" or
        "Dividende" over articles that never use the word is rarely answerable, however close
        the embeddings put it to the topic; but beside one short article in the question's
        language nearly every word is "unknown", and a question answered from another
        language's articles must not abstain because of it. Names (capitalised words, numbers,
        whole CJK words) weigh more than ordinary words, which a paraphrase may simply have
        replaced.
        """
        index = evidence.index
        if index.sentences_in(evidence.question_lang) < MIN_SENTENCES_PER_LANG:
            return [], []
        content = langmod.without_interrogatives(evidence.question)
        lang = [evidence.question_lang]

        def missing(text: str) -> list[str]:
            tokens = textmod.lexical_tokens(text, lang)
            return [
                t for t in dict.fromkeys(tokens) if not index.has_term(t) and not langmod.has_cjk(t)
            ]

        names = textmod.NAME_TERM.findall(content)
        # A name is the same in every language, but not its stem: Spanish analysis turns
        # "Alibaba" into "alib", which only a Spanish article would hold.
        unknown_names = [n for n in names if not _known_in_some_language(n, index)]
        name_terms = list(dict.fromkeys(t for n in unknown_names for t in missing(n)))
        words = [t for t in missing(textmod.NAME_TERM.sub(" ", content)) if t not in name_terms]
        # CJK bigrams that straddle two words are often unseen; a missing *word* is a run of them.
        for run in re.findall(r"[\u3400-\u9fff]{3,}", content):
            gaps = [not index.has_term(b) for b in textmod.cjk_bigrams(run)]
            if any(a and b for a, b in itertools.pairwise(gaps)):
                name_terms.append(run)
        return name_terms, words

    def _form_penalty(self, sentence: str, n_tokens: int) -> float:
        """Headings, fragments and the article's own rhetorical questions answer nothing."""
        s = self.settings
        penalty = s.short_penalty if n_tokens < 5 else 0.0
        stripped = sentence.rstrip()
        if stripped.endswith(textmod.QUESTION_END):
            penalty += s.question_penalty
        elif not stripped.endswith(textmod.SENTENCE_END):
            penalty += s.heading_penalty
        return penalty

    def _select(self, ranked: list[ScoredSentence], evidence: Evidence) -> list[ScoredSentence]:
        s = self.settings
        best = ranked[0]
        chosen = [best]
        for candidate in ranked[1:]:
            if len(chosen) >= s.max_sentences or candidate.score < best.score - s.keep_within:
                break
            cosine = evidence.index.sentence_cosine
            if any(
                cosine(candidate.sentence.sentence_id, c.sentence.sentence_id) > s.duplicate_cosine
                for c in chosen
            ):
                continue
            chosen.append(candidate)
        return chosen

    def answer(self, evidence: Evidence) -> Answer:
        ranked = self.score_sentences(evidence)
        s = self.settings
        if not ranked or ranked[0].dense < s.min_dense:
            return self.abstain(evidence)
        names, words = self.unknown_terms(evidence)
        penalty = len(names) * s.unknown_name_penalty + len(words) * s.unknown_word_penalty
        if ranked[0].score - min(penalty, s.max_unknown_penalty) < s.min_score:
            return self.abstain(evidence)
        if langmod.asks_for_quantity(evidence.question) and not ranked[0].has_figure:
            return self.abstain(evidence)
        notes: list[str] = []
        if langmod.asks_for_latest(evidence.question):
            near = [c for c in ranked if c.score >= ranked[0].score - s.conflict_margin]
            ranked, note = newest_first(near, ranked, evidence)
            notes.append(note)
        chosen = self._select(ranked, evidence)
        chosen += self._conflicting(ranked, chosen, evidence)
        probs = self.asked_type_probabilities(evidence)
        return quoted_answer(chosen, probs, evidence, self.name, notes)

    def _conflicting(
        self, ranked: list[ScoredSentence], chosen: list[ScoredSentence], evidence: Evidence
    ) -> list[ScoredSentence]:
        """Sentences of other articles, scoring nearly as well, that give a different value of
        the same kind (2 million units vs 200,000 units): shown beside the pick, not dropped."""

        def amounts(item: ScoredSentence) -> list[Figure]:
            return sentence_amounts(item.sentence, evidence)

        picked = [f for c in chosen for f in amounts(c)]
        docs = {c.sentence.doc_id for c in chosen}
        extra: list[ScoredSentence] = []
        for candidate in ranked:
            if candidate.score < ranked[0].score - self.settings.conflict_margin or len(extra) == 2:
                break
            if candidate.sentence.doc_id in docs or not candidate.has_figure:
                continue
            if any(figure_differs(f, g) for f in amounts(candidate) for g in picked):
                extra.append(candidate)
                docs.add(candidate.sentence.doc_id)
        return extra


def _known_in_some_language(name: str, index: Store) -> bool:
    """Whether the index holds every token of `name` as some language of it analyses it."""
    return any(
        all(index.has_term(t) for t in textmod.lexical_tokens(name, [lang])) for lang in index.langs
    )
