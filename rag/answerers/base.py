"""The answerer protocol: evidence in, a cited Answer (or an abstention) out, optionally streamed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from rag import lang as langmod
from rag.answers import Answer, Evidence

# What a streaming answerer yields: text as it is produced, then the finished Answer.
StreamEvent = str | Answer


def final_answer(events: Iterator[StreamEvent]) -> Answer:
    """Drain a stream of text events to the Answer it ends with."""
    final = None
    for event in events:
        if isinstance(event, Answer):
            final = event
    if final is None:
        raise RuntimeError("an answer stream ended without its Answer")
    return final


class Answerer(ABC):
    name: str

    @abstractmethod
    def answer(self, evidence: Evidence) -> Answer:
        """An answer citing only passages from `evidence`, or an abstention."""

    def stream(self, evidence: Evidence) -> Iterator[StreamEvent]:
        """Text as it is produced, then the Answer; one piece for answerers that do not stream."""
        result = self.answer(evidence)
        yield result.answer
        yield result

    def abstain(self, evidence: Evidence) -> Answer:
        message = langmod.abstain_message(evidence.question_lang)
        return Answer(message, True, [], question_lang=evidence.question_lang, answerer=self.name)
