"""Where the answers go wrong, per language pair: retrieval, sentence choice or abstention.

Why: one accuracy number cannot tell a retrieval miss from an answerer that had the passage and
threw it away; the fix for each is different. Every question falls in one outcome:

- `right`: answered right, or (no answer in the articles) abstained;
- `not retrieved`: the gold passage was not among the passages the answerer saw;
- `wrong sentence`: it was, but the answer quoted something else;
- `abstained`: it was, and the answerer abstained;
- `answered unanswerable`: no article holds the answer, and it answered anyway.

Pairs are `question language→article language` (`→none` for questions no article answers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

OUTCOMES = ("right", "not retrieved", "wrong sentence", "abstained", "answered unanswerable")


def outcome(answerable: bool, retrieved: bool, answered: bool, right: bool) -> str:
    """The one outcome of a question (see the module docstring)."""
    if not answerable:
        return "answered unanswerable" if answered else "right"
    if answered and right:
        return "right"
    if not retrieved:
        return "not retrieved"
    return "wrong sentence" if answered else "abstained"


def tally(rows: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """(pair, outcome) rows -> per pair (and `all`) the count of each outcome."""
    table: dict[str, Counter[str]] = {}
    for pair, kind in rows:
        table.setdefault(pair, Counter())[kind] += 1
        table.setdefault("all", Counter())[kind] += 1
    ordered = sorted(table, key=lambda p: (p == "all", p))
    return {p: {k: table[p][k] for k in OUTCOMES} for p in ordered}


def figure_set_rows(records: Sequence[Any]) -> list[tuple[str, str]]:
    """Figure-set records (rag/evaluation/figure_set.py) -> (pair, outcome)."""
    rows = []
    for r in records:
        pair = f"{r.lang}→{r.article_lang if r.answerable else 'none'}"
        retrieved = any(d in r.retrieved_docs for d in r.sources)
        rows.append((pair, outcome(r.answerable, retrieved, not r.abstained, r.figure_correct)))
    return rows


def xquad_rows(samples: Sequence[Any], decisions: Sequence[Any]) -> list[tuple[str, str]]:
    """XQuAD samples and the answerer's decisions on them -> (pair, outcome); `retrieved` means
    a candidate sentence from the gold paragraph holds the answer."""
    rows = []
    for s, d in zip(samples, decisions, strict=True):
        right = not d.abstain and any(s.labels[i] for i in d.chosen)
        pair = s.pair if s.gold_present else f"{s.q_lang}→none"
        rows.append((pair, outcome(s.gold_present, bool(s.labels.any()), not d.abstain, right)))
    return rows


def markdown(table: Mapping[str, Mapping[str, int]]) -> str:
    """The tally as a Markdown table, one row a pair."""
    from rag.evaluation.reports import md_table

    rows = [[pair, sum(counts.values()), *(counts[k] for k in OUTCOMES)]
            for pair, counts in table.items()]  # fmt: skip
    return md_table(["pair", "questions", *OUTCOMES], rows)
