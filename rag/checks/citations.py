"""Citation marks in model output: `[1]`, `[1, 3]`, `[1][2]`, `【1】`, `[source 2]`, `[1-3]`.

Models write citations in many shapes; this reads them all, keeps only numbers of sources that
were actually given, and rewrites each as canonical `[n]` marks so every later step (sentence
support, figure checks, front ends) reads one form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field

# The canonical mark every later step reads, and a group of them as some writers put it: [1, 3].
CITATION_MARK = re.compile(r"\[(\d+)\]")
CITATION_GROUP = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SENTENCE_END = re.compile(
    r"(?:[.!?](?=\s|\[|$)|[。！？])(?:\s*\[\d+(?:\s*,\s*\d+)*\])*"
    r"|(?:\s*\[\d+(?:\s*,\s*\d+)*\])+(?=\s+[A-ZÀ-Þ\u3400-\u9fff]|\s*$)"
)
_ABBREVIATION = re.compile(r"(?:\b\w{1,3}|\w\.\w+)\.$")  # U.S. / vs. / Dez. / z.B.


def answer_sentences(answer: str) -> list[tuple[int, str, list[int]]]:
    """(offset, sentence, cited numbers): each sentence with the `[n]` marks attached to it.

    A fragment that ends in an abbreviation and cites nothing is joined to what follows, so
    "in the U.S. market [1]" keeps its citation.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(answer):
        spans.append((start, m.end()))
        start = m.end()
    if answer[start:].strip():
        spans.append((start, len(answer)))
    merged: list[tuple[int, int]] = []
    for span in spans:
        if merged:
            prev = answer[merged[-1][0] : merged[-1][1]]
            if not CITATION_GROUP.search(prev) and _ABBREVIATION.search(prev.rstrip()):
                merged[-1] = (merged[-1][0], span[1])
                continue
        merged.append(span)
    out = []
    for a, b in merged:
        sentence = answer[a:b]
        if sentence.strip():
            cited = [int(n) for group in CITATION_GROUP.findall(sentence) for n in group.split(",")]
            out.append((a, sentence, cited))
    return out


# Citation marks as models write them, before they are made canonical.
_MARK = re.compile(
    r"(?P<lead>[ \t]*)[\[【［〔(（]\s*(?:(?:sources?|quellen?|fuentes?|来源|出处|资料)\s*[:：#]?\s*)?"
    r"(?P<nums>[0-9０-９]{1,3}(?:\s*(?:[,，、;；]|[-–—~]|and|und|y|和)\s*[0-9０-９]{1,3})*)"
    r"\s*[\]】］〕)）]",
    re.IGNORECASE,
)
_RANGE = re.compile(r"(\d+)\s*[-–—~]\s*(\d+)")
_SPACE_BEFORE_MARK = re.compile(r"[ \t]+(?=\[\d+\])")


@dataclass
class ParsedCitations:
    text: str  # the answer with canonical [n] marks, invalid ones removed
    dropped: list[int] = field(default_factory=list)  # numbers of sources that were not given


def _numbers(group: str) -> list[int]:
    group = unicodedata.normalize("NFKC", group)
    out: list[int] = []
    for part in re.split(r"\s*(?:[,、;；]|and|und|y|和)\s*", group):
        span = _RANGE.fullmatch(part.strip())
        if span:
            low, high = int(span.group(1)), int(span.group(2))
            out.extend(range(low, high + 1) if 0 < high - low < 10 else [low, high])
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def parse(text: str, valid: Collection[int]) -> ParsedCitations:
    """Canonical marks for `text`; a parenthesised number counts only if it names a source."""
    dropped: list[int] = []

    def rewrite(match: re.Match[str]) -> str:
        numbers = _numbers(match.group("nums"))
        if match.group(0)[0] in "(（" and not all(n in valid for n in numbers):
            return match.group(0)  # "(2026)" or "(3)" in prose, not a citation
        kept = list(dict.fromkeys(n for n in numbers if n in valid))
        dropped.extend(n for n in numbers if n not in valid)
        return match.group("lead") + "".join(f"[{n}]" for n in kept) if kept else ""

    canonical = _MARK.sub(rewrite, text)
    canonical = _SPACE_BEFORE_MARK.sub(" ", canonical)
    return ParsedCitations(canonical, dropped)


@dataclass(frozen=True)
class SentenceSupport:
    text: str
    citations: list[int]
    supported: bool

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "citations": self.citations, "supported": self.supported}


# A bracketed number in quoted or retrieved article text, in any shape a citation parser reads
# (`[2]`, `[2, 3]`, `【1】`, `［1］`, `[source 2]`, `[2025]`, `[1)`); `(2026)` in prose is kept.
_QUOTED_MARK = re.compile(
    r"(?P<open>[\[【［〔(（])(?P<body>[^\[\]【】［］〔〕()（）\n]{0,40}?[0-9０-９]"
    r"[^\[\]【】［］〔〕()（）\n]{0,40}?)(?P<close>[\]】］〕)）])"
)

# A reference mark as an article writes it, or as neutralise_marks shows it: `[2]`, `{2}{3}`,
# `【1】`, `[source 2]`. The number in it is no figure (figures.extract skips it).
REFERENCE_MARK = re.compile(
    r"[\[【［〔{]\s*(?:(?:sources?|quellen?|fuentes?|来源|出处|资料)\s*[:：#]?\s*)?"
    r"[0-9０-９]+(?:\s*(?:[,，、;；]|[-–—~]|and|und|y|和)\s*[0-9０-９]+)*\s*[\]】］〕}]",
    re.IGNORECASE,
)


def neutralise_marks(text: str) -> str:
    """Article text with its own bracketed numbers shown as `{2}`: an article that writes
    "chips [2][3]" or a fake "[1] Reuters: ..." header must not add, renumber or forge our
    citations when it is quoted in an answer or shown to a model as a source. Braces are read
    by no citation parser (ours or a model's), and the number stays readable."""

    def braces(m: re.Match[str]) -> str:
        if m.group("open") in "(（" and m.group("close") in ")）":
            return m.group(0)  # prose, or a citation only if it names a source: see parse
        return "{" + m.group("body") + "}"

    while True:  # "[1[2]]" holds a second mark once the inner one is gone
        text, before = _QUOTED_MARK.sub(braces, text), text
        if text == before:
            return text


def renumber_in_order_of_use(text: str) -> tuple[str, dict[int, int]]:
    """`text` with its citations numbered 1, 2, ... in order of first use, and the mapping from
    old numbers to new: after sentences are dropped, or when a model cites sources 3 and 1."""
    used = list(dict.fromkeys(int(n) for n in CITATION_MARK.findall(text)))
    mapping = {old: new for new, old in enumerate(used, start=1)}
    return CITATION_MARK.sub(lambda m: f"[{mapping[int(m.group(1))]}]", text), mapping


def sentence_support(text: str) -> list[SentenceSupport]:
    """Each sentence of a canonical answer with its citations; none means unsupported."""
    out = []
    for _, sentence, cited in answer_sentences(text):
        stripped = sentence.strip()
        if stripped:
            out.append(SentenceSupport(stripped, cited, bool(cited)))
    return out
