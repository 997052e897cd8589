"""An answerer that wraps others and falls back, like pydantic-ai's FallbackModel.

The front ends never decide fallback themselves: they ask this answerer, which tries each of its
answerers in order and moves on only when one is *unavailable* (no key, server down, timeout,
rate limit: `AnswererUnavailable`). Bad input and anything else propagate unchanged, so an empty
question is never mistaken for an LLM outage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from rag.answerers.base import Answerer, StreamEvent, final_answer
from rag.answers import Answer, Evidence
from rag.errors import AnswererUnavailable

AnswererSource = Answerer | Callable[[], Answerer]


class FallbackAnswerer(Answerer):
    """Answers with the first of `answerers` that is available; the answer says which failed.

    Entries may be factories, so an answerer that cannot even be built (no API key) counts as
    unavailable too, and is retried on the next question (a server may come back).
    """

    def __init__(
        self,
        answerers: Sequence[AnswererSource],
        names: Sequence[str],
        labels: Sequence[str] | None = None,
    ) -> None:
        """`names` as the registry knows them; `labels` say what each is to a reader ("LLM")."""
        if not answerers or len(answerers) != len(names):
            raise ValueError("a fallback needs at least one answerer, and a name for each")
        self._sources = list(answerers)
        self._names = list(names)
        self._labels = list(labels or names)
        self.name = "→".join(names)

    def _get(self, i: int) -> Answerer:
        source = self._sources[i]
        if isinstance(source, Answerer):
            return source
        built = source()
        self._sources[i] = built
        return built

    def answer(self, evidence: Evidence) -> Answer:
        return final_answer(self.stream(evidence))

    def stream(self, evidence: Evidence) -> Iterator[StreamEvent]:
        failures: list[str] = []
        for i, name in enumerate(self._names):
            label = self._labels[i]
            try:
                answerer = self._get(i)
            except AnswererUnavailable as err:
                failures.append(f"The {label} is not available ({err})")
                if i == len(self._names) - 1:
                    raise
                continue
            try:
                for event in answerer.stream(evidence):
                    if isinstance(event, Answer) and failures:
                        event.notice = "; ".join(failures) + f"; this is the {name} answer instead."
                    yield event
                return
            except AnswererUnavailable as err:
                failures.append(f"The {label} failed ({err})")
                if i == len(self._names) - 1:
                    raise
        raise AssertionError("unreachable: the last answerer either answers or raises")
