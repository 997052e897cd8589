"""The default answerer: quotes the article sentences that best answer the question, cites each
one, and needs no LLM weights.

Which sentences, whether to answer at all and how sure it is all come from one answer model
fitted on data (rag/answerers/scorer.py, `rag train-scorer`): features that mean the same in
every language pair (ranks and margins among the question's candidates, the cross-lingual
relevance network, words shared through dictionaries, names and numbers across scripts, answer
type), a logistic regression over them, a calibrated confidence and a threshold chosen on
training data for a stated precision. No cosine or score cut-off is set by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag import lang as langmod
from rag.answerers import qtypes, scorer
from rag.answerers.base import Answerer
from rag.answerers.quoting import asked_figure_type, newest_first, quoted_answer
from rag.answerers.scorer import AnswerModel, Candidate, load_model
from rag.answers import Answer, Evidence
from rag.checks.figures import extract
from rag.config import ExtractiveSettings
from rag.stores.base import Sentence

MAX_RELATED = 3  # sentences of other articles quoted beside the pick: a conflict, a
# corroboration or a related figure


@dataclass(frozen=True)
class ScoredSentence:
    sentence: Sentence
    score: float  # the model's probability that this sentence answers the question
    has_figure: bool


class ExtractiveAnswerer(Answerer):
    """Quotes the sentences that best answer the question and cites each one.

    Every sentence of the retrieved chunks gets a probability of answering from the answer
    model (rag/answerers/scorer.py, fitted on XQuAD); a question asking for a figure of some type is
    answered only from sentences holding one. Below the model's calibrated confidence threshold,
    or when the question names something no article mentions, it abstains rather than guess.
    A figure answer starts with the value itself, framed in the question's language.
    """

    name = "extractive"

    def __init__(
        self, settings: ExtractiveSettings | None = None, model: AnswerModel | None = None
    ) -> None:
        self.settings = settings or ExtractiveSettings()
        self.model = model or load_model()

    def _type_model(self, evidence: Evidence) -> dict[str, list[float]] | None:
        """Type prototypes are embedder-specific; another embedder falls back to the lexicons."""
        return (
            self.model.type_model if self.model.embedder_id == evidence.index.embedder_id else None
        )

    def _relevance(self, evidence: Evidence) -> scorer.RelevanceModel | None:
        """The relevance network reads this embedder's vectors only; under another embedder
        its columns stay zero and the model leans on the rest."""
        relevance = self.model.relevance
        same = relevance is not None and relevance.embedder_id == evidence.index.embedder_id
        return relevance if same else None

    def _score(
        self, evidence: Evidence
    ) -> tuple[list[Candidate], np.ndarray, scorer.QuestionContext]:
        context = scorer.question_context(
            evidence.question, evidence.question_lang, evidence.query_vector, evidence.index,
            self._type_model(evidence), evidence.scope,
        )  # fmt: skip
        candidates, x = scorer.candidates_and_features(evidence, context, self._relevance(evidence))
        probs = self.model.sentence_probabilities(x) if len(x) else np.empty(0)
        return candidates, probs, context

    def score_sentences(self, evidence: Evidence) -> list[ScoredSentence]:
        """Every candidate sentence, most probable answer first."""
        candidates, probs, _ = self._score(evidence)
        ranked = sorted(zip(candidates, probs, strict=True), key=lambda cp: -cp[1])
        return [ScoredSentence(c.sentence, float(p), bool(c.figures)) for c, p in ranked]

    def answer(self, evidence: Evidence) -> Answer:
        s = self.settings
        candidates, probs, context = self._score(evidence)
        decision = scorer.decide(
            candidates, probs, context, self.model, s.max_sentences,
            evidence.index, s.duplicate_cosine,
        )  # fmt: skip
        if decision.abstain:
            result = self.abstain(evidence)
            if context.unknown_names:
                result.answer = langmod.not_mentioned_message(
                    evidence.question_lang, context.unknown_names
                )
            result.confidence = round(decision.confidence, 4)
            result.notes.append(f"abstained: {decision.reason}")
            return result
        ranked = [
            ScoredSentence(candidates[i].sentence, float(probs[i]), bool(candidates[i].figures))
            for i in decision.chosen
        ]
        pool = sorted(
            (ScoredSentence(c.sentence, float(p), bool(c.figures))
             for c, p in zip(candidates, probs, strict=True)),
            key=lambda x: -x.score,
        )  # fmt: skip
        notes: list[str] = []
        if langmod.asks_for_latest(evidence.question):
            floor = s.conflict_ratio * ranked[0].score
            ranked, note = newest_first([c for c in pool if c.score >= floor], ranked, evidence)
            notes.append(note)
        untrusted = evidence.index.untrusted_doc_ids
        if ranked[0].sentence.doc_id not in untrusted:  # a trusted lead: untrusted text adds
            pool = [c for c in pool if c.sentence.doc_id not in untrusted]  # nothing to it
            ranked = [c for c in ranked if c.sentence.doc_id not in untrusted]
        kind = asked_figure_type(context.type_probs)
        chosen = ranked + self._related_figures(pool, ranked, evidence, kind)
        confidence = round(decision.confidence, 4)
        return quoted_answer(chosen, context.type_probs, evidence, self.name, notes, confidence)

    def _related_figures(
        self,
        pool: list[ScoredSentence],
        chosen: list[ScoredSentence],
        evidence: Evidence,
        kind: str | None,
    ) -> list[ScoredSentence]:
        """Sentences of other articles, nearly as probable, that give a figure of the chosen
        one's kind and unit: a different value of the same quantity (141GB vs 96GB) is shown
        beside the pick, not dropped; the same value from another source corroborates it; and
        a related figure (200,000 per company beside 2 million in total) is quoted too, which
        the conflict check (`quantities`) then does not call a disagreement."""
        picked = {u for c in chosen for u in self._units(c, evidence, kind)}
        docs = {c.sentence.doc_id for c in chosen}
        ids = {c.sentence.sentence_id for c in chosen}
        floor = self.settings.conflict_ratio * chosen[0].score
        extra: list[ScoredSentence] = []
        for candidate in pool:
            if candidate.score < floor or len(extra) == MAX_RELATED:
                break
            if candidate.sentence.doc_id in docs or candidate.sentence.sentence_id in ids:
                continue
            if candidate.has_figure and picked & self._units(candidate, evidence, kind):
                extra.append(candidate)
                docs.add(candidate.sentence.doc_id)
        return extra

    @staticmethod
    def _units(
        item: ScoredSentence, evidence: Evidence, kind: str | None
    ) -> set[tuple[str | None, str]]:
        """(unit, kind) of the sentence's figure of the asked type, or of all its amounts."""
        lang = evidence.index.chunk(item.sentence.chunk_id).lang
        figures = [f for f in extract(item.sentence.text, lang) if f.kind not in ("year", "date")]
        if kind is not None:
            figures = qtypes.compatible_figures(figures, kind)[:1]
        return {(f.unit, f.kind) for f in figures}
