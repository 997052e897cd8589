"""Follow-up questions read with the previous turn's subject.

"and ByteDance?" after "How many chips is Alibaba ready to order?" is asked as "How many chips
is ByteDance ready to order?": the new name takes the place of the previous question's subject
(its last name in en/es/de, where the company asked about tends to come late; its first in
Chinese, where the topic leads). With no name to swap, the follow-up is appended to the previous question, so retrieval
still sees the subject. Front ends show the question as understood, so a wrong reading is
visible rather than silently answered.
"""

from __future__ import annotations

import re

from rag import lang as langmod

# A short question that leans on the previous one: "and ByteDance?", "und Tencent?",
# "¿y ByteDance?", "et ByteDance ?", "what about ByteDance?", "那字节跳动呢？", "还有字节跳动？".
_LEAD = re.compile(
    r"^\s*[¿¡]?\s*(?:and|und|y|e|et|what about|how about|und was ist mit|was ist mit|"
    r"¿?qu[eé] hay de|y qu[eé] hay de|et pour|also|then)\b[\s,]*"
    r"|^\s*(?:那么|那|还有|以及|和)",
    re.IGNORECASE,
)
_TRAIL = re.compile(r"\s*(?:呢)?\s*[?？!！.。]*\s*$")
MAX_FOLLOW_UP_WORDS = 6
MAX_FOLLOW_UP_CJK = 12
# Capitalised names; all-caps words of up to three letters (AI, US, EU) are topics, not subjects.
_LATIN_NAME = re.compile(r"(?<![\w-])(?:[A-Z][\w-]*[a-z][\w-]*|[A-Z]{4,}[\w-]*)(?![\w-])")


def is_follow_up(question: str) -> bool:
    """Short, and opening with "and / what about / 那 …": it cannot stand alone."""
    if not _LEAD.search(question):
        return False
    if langmod.has_cjk(question):
        return len(re.sub(r"\s", "", question)) <= MAX_FOLLOW_UP_CJK
    return len(question.split()) <= MAX_FOLLOW_UP_WORDS


def subject_of(follow_up: str) -> str:
    """What the follow-up asks about: the words after its lead, without the question mark."""
    return _TRAIL.sub("", _LEAD.sub("", follow_up, count=1)).strip()


def resolve_follow_up(question: str, previous: str | None) -> str:
    """The question to answer: `question` itself, or read with the previous one."""
    if not previous or not is_follow_up(question):
        return question
    subject = subject_of(question)
    if not subject:
        return previous
    names = _names(previous)
    if names:
        old = names[0] if langmod.has_cjk(previous) else names[-1]
        start = previous.rfind(old)
        return previous[:start] + subject + previous[start + len(old) :]
    return f"{_TRAIL.sub('', previous)} ({subject})"


def _names(question: str) -> list[str]:
    """Names in a previous question that a follow-up may replace: capitalised words after the
    first (not codes such as H200: "and ByteDance?" swaps a company, not a chip), or Chinese
    proper nouns that CC-CEDICT knows."""
    if langmod.has_cjk(question):
        from rag.retrieval import dictionary

        return [
            w
            for w in dictionary.segment_zh(question)
            if len(w) >= 2 and langmod.has_cjk(w) and dictionary.is_proper_name_zh(w)
        ]
    words = question.split(maxsplit=1)
    rest = words[1] if len(words) > 1 else ""
    return [n for n in _LATIN_NAME.findall(rest) if not any(ch.isdigit() for ch in n)]
