"""The last step of every answer: each figure checked against the passage its sentence cites,
and a generated sentence whose figure is not there removed (and reported), never shown."""

from __future__ import annotations

from dataclasses import replace

from rag import lang as langmod
from rag.answers import Answer
from rag.checks.citations import answer_sentences, renumber_in_order_of_use, sentence_support
from rag.checks.figures import FigureCheck, verify


def _passages(result: Answer) -> dict[int, tuple[str, str]]:
    return result.passages or {c.n: (c.quote, c.lang) for c in result.citations}


def check_figures(result: Answer) -> list[FigureCheck]:
    """Every figure in the answer, checked against the passage its sentence cites."""
    return verify(result.answer, _passages(result), result.question_lang)


def drop_unverified_figures(result: Answer) -> Answer:
    """Check every figure; a sentence whose figure is not in the passage it cites is removed,
    and the user is told (`removed`); the remaining citations are renumbered. Extractive
    answers quote their sources, so removal only ever bites on generated text."""
    checks = check_figures(result)
    if result.abstained or all(c.supported for c in checks):
        result.figures = checks
        return result
    passages = _passages(result)
    kept: list[str] = []
    for offset, sentence, cited in answer_sentences(result.answer):
        bad = [c.figure.text for c in checks
               if not c.supported and offset <= c.figure.start < offset + len(sentence)]  # fmt: skip
        if bad:
            where = "the source it cites" if cited else "any source: the sentence cites none"
            reason = f"{', '.join(bad)} not found in {where}"
            result.removed.append({"text": sentence.strip(), "reason": reason})
        else:
            kept.append(sentence)
    text = "".join(kept).strip()
    result.answer, renumber = renumber_in_order_of_use(text)
    result.citations = [replace(c, n=renumber[c.n]) for c in result.citations if c.n in renumber]
    result.passages = {renumber[n]: p for n, p in passages.items() if n in renumber}
    result.sentences = sentence_support(result.answer) if result.answer else []
    if not result.answer:
        result.answer = langmod.abstain_message(result.question_lang)
        result.abstained = True
    result.figures = check_figures(result)
    return result
