"""Citation marks in every shape models write them, reduced to canonical [n] of given sources."""

from __future__ import annotations

import pytest

from rag.checks.citations import parse, sentence_support

CASES = [
    ("Fee is 25% [1].", "Fee is 25% [1].", []),
    ("Fee is 25% [1, 3].", "Fee is 25% [1][3].", []),
    ("Fee is 25% [1][2].", "Fee is 25% [1][2].", []),
    ("费用是25%【1】。", "费用是25%[1]。", []),
    ("费用是25%【1，2】。", "费用是25%[1][2]。", []),
    ("Fee is 25% ［２］.", "Fee is 25% [2].", []),
    ("Fee is 25% [source 2].", "Fee is 25% [2].", []),
    ("Fee is 25% [Quelle 3].", "Fee is 25% [3].", []),
    ("Fee is 25% [1-3].", "Fee is 25% [1][2][3].", []),
    ("Fee is 25% [7].", "Fee is 25%.", [7]),
    ("Fee is 25% [2, 7].", "Fee is 25% [2].", [7]),
    ("In (2026) the fee rose (2).", "In (2026) the fee rose [2].", []),
    ("Revenue (in 2025) grew.", "Revenue (in 2025) grew.", []),
]


@pytest.mark.parametrize(("raw", "canonical", "dropped"), CASES)
def test_marks_are_read_and_invalid_ones_dropped(
    raw: str, canonical: str, dropped: list[int]
) -> None:
    parsed = parse(raw, {1, 2, 3})
    assert (parsed.text, parsed.dropped) == (canonical, dropped)


def test_each_sentence_is_flagged_by_its_own_citations() -> None:
    text = "Alibaba [1] and ByteDance [2] may order 200,000 chips. The fee is 25%. It rose [3]."
    assert [(s.citations, s.supported) for s in sentence_support(text)] == [
        ([1, 2], True),
        ([], False),
        ([3], True),
    ]
