"""What every answerer returns: an answer whose every `[n]` maps to a quoted span of an article."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rag.checks.citations import CITATION_MARK, SentenceSupport
from rag.checks.figures import FigureCheck
from rag.retrieval.hybrid import Hit
from rag.stores.base import Filters, Store


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    date: str | None
    lang: str
    quote: str
    start: int
    end: int
    untrusted: bool = False  # its article carries planted instructions (rag.ingest.planted)


@dataclass
class Answer:
    answer: str
    abstained: bool
    citations: list[Citation]
    timings_ms: dict[str, float] = field(default_factory=dict)
    question_lang: str = "en"
    answerer: str = ""
    figures: list[FigureCheck] = field(default_factory=list)
    sentences: list[SentenceSupport] = field(default_factory=list)
    dropped_citations: list[int] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    # values several cited articles give alike: {"text", "sources", "citations"}
    agreements: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Calibrated probability that the answer is right (answerers with a learned scorer).
    confidence: float | None = None
    # What each citation number's figures are checked against, when more than its quote (an
    # LLM cites a whole passage); not part of the public shape.
    passages: dict[int, tuple[str, str]] = field(default_factory=dict, repr=False)
    # The short direct answer the text starts with ("答：141GB [1]。"), for front ends that show
    # it apart; already part of `answer`, so not in the public shape.
    direct: str = field(default="", repr=False)
    # Why a fallback answerer answered instead of the configured one; shown above the answer.
    notice: str = field(default="", repr=False)
    # The chunks the answerer was given, best first: after an abstention a reader can judge
    # the closest passages that were not good enough. Not part of the public shape.
    retrieved: list[Hit] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [asdict(c) for c in self.citations],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "question_lang": self.question_lang,
            "answerer": self.answerer,
            "figures": [f.to_dict() for f in self.figures],
            "sentences": [s.to_dict() for s in self.sentences],
            "dropped_citations": self.dropped_citations,
            "removed": self.removed,
            "conflicts": self.conflicts,
            "agreements": self.agreements,
            "notes": self.notes,
            "confidence": self.confidence,
        }

    def check_citations(self) -> None:
        """Every [n] in the text has an entry and every entry is used: the contract front ends rely on."""
        used = {int(n) for n in CITATION_MARK.findall(self.answer)}
        listed = {c.n for c in self.citations}
        if used != listed:
            raise AssertionError(f"citations used {sorted(used)} but listed {sorted(listed)}")


@dataclass
class Evidence:
    """What an answerer gets: the question, its embedding and the retrieved chunks."""

    question: str
    question_lang: str
    query_vector: np.ndarray
    hits: list[Hit]
    index: Store
    # The chunks the question may be answered from (filters), None for all: what counts as a
    # name the articles mention.
    scope: Filters | None = None
