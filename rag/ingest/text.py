"""Language-aware sentence splitting, token-budget chunking and lexical tokens for BM25.

Offsets matter more than anything here: every sentence and chunk remembers where it sits in the
article's original text, so that a citation can quote and highlight the exact span.
"""

from __future__ import annotations

import bisect
import itertools
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.config import DEFAULT_ENCODING, ChunkingSettings, tiktoken_cache

# pysbd's rule sets; other languages fall back to English rules, which handle most Latin scripts.
_PYSBD_LANGS = {
    "en", "hi", "mr", "zh", "es", "am", "ar", "hy", "bg", "ur", "ru", "pl", "fa", "nl", "da",
    "fr", "my", "el", "it", "ja", "de", "kk", "sk",
}  # fmt: skip
_SNOWBALL = {
    "en": "english", "es": "spanish", "de": "german", "fr": "french", "it": "italian",
    "pt": "portuguese", "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian",
    "fi": "finnish", "ru": "russian", "tr": "turkish", "ca": "catalan", "ro": "romanian",
    "hu": "hungarian", "el": "greek", "pl": "polish", "cs": "czech",
}  # fmt: skip
_STOPWORD_LISTS = {
    "en": "STOPWORDS_EN", "es": "STOPWORDS_SPANISH", "de": "STOPWORDS_GERMAN",
    "fr": "STOPWORDS_FRENCH", "it": "STOPWORDS_ITALIAN", "pt": "STOPWORDS_PORTUGUESE",
    "nl": "STOPWORDS_DUTCH", "ru": "STOPWORDS_RUSSIAN",
}  # fmt: skip

_CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_RUN = f"[{_CJK_CHARS}]+"
_NUMBER = r"\d+(?:[.,'\u2019\u00a0]\d+)*"
_LETTERS = f"[^\\W\\d_{_CJK_CHARS}]"
_WORD = f"{_LETTERS}+(?:\\d+{_LETTERS}*)*"
_LEXEME = re.compile(f"(?P<cjk>{_CJK_RUN})|(?P<num>(?>{_NUMBER}))|(?P<word>{_WORD})")
_NUMBER_SEPARATORS = re.compile(r"[.,'\u2019\u00a0]")
# "%", "percent", "Prozent", "por ciento", "百分之" all say the same thing: one shared token.
_PERCENT = re.compile(
    r"[%％]|\b(?:per\s?cent|prozent|por\s+ciento|pour\s?cent|per\s+cento)\b|百分之"
)
PERCENT_TOKEN = "pct"


@dataclass(frozen=True)
class Sentence:
    """A sentence: `text` is what is quoted, `start`/`end` locate it in the original article."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    start: int
    end: int
    text: str
    sentences: tuple[Sentence, ...]
    n_tokens: int


@dataclass(frozen=True)
class CleanText:
    """The article with junk removed, and where each of its characters came from.

    `origin[i]` is the original offset of `text[i]`; `origin[len(text)]` is the end of the original.
    """

    text: str
    origin: tuple[int, ...]

    @classmethod
    def build(cls, original: str, junk: Sequence[tuple[int, int]]) -> CleanText:
        keep = [True] * len(original)
        for start, end in junk:
            for i in range(max(0, start), min(end, len(original))):
                keep[i] = False
        origin = [i for i, kept in enumerate(keep) if kept]
        text = "".join(original[i] for i in origin)
        return cls(text=text, origin=(*origin, len(original)))

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of clean text[start:end] (end is exclusive, end > start)."""
        return self.origin[start], self.origin[end - 1] + 1

    def clean_offset(self, original_offset: int) -> int:
        """Clean offset of a kept original character."""
        return bisect.bisect_left(self.origin, original_offset)


def quote(original: str, junk: Sequence[tuple[int, int]], start: int, end: int) -> str:
    """The clean text of original[start:end]: what a citation quotes for that span."""
    pieces = []
    cursor = start
    for j_start, j_end in sorted(junk):
        if j_end <= cursor or j_start >= end:
            continue
        pieces.append(original[cursor : max(cursor, j_start)])
        cursor = max(cursor, j_end)
    pieces.append(original[cursor:end])
    return "".join(pieces)


@lru_cache(maxsize=8)
def _segmenter(lang: str) -> Any:
    import pysbd

    return pysbd.Segmenter(language=lang if lang in _PYSBD_LANGS else "en", clean=False)


# OpenAI's o200k_base ranks, vendored with their licence: tiktoken would download them.
TIKTOKEN_CACHE = Path(__file__).with_name("tiktoken_cache")
_ENCODING_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def encoding(name: str = DEFAULT_ENCODING) -> Any:
    """A tiktoken encoding loaded from the vendored cache (a user's own TIKTOKEN_CACHE_DIR
    wins); tiktoken keeps it in memory afterwards, so the variable is set only while loading."""
    import tiktoken

    with _ENCODING_LOCK, tiktoken_cache(TIKTOKEN_CACHE):
        return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding_name: str = DEFAULT_ENCODING) -> int:
    return len(encoding(encoding_name).encode(text, disallowed_special=()))


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _sentence_spans_in_line(line: str, lang: str) -> list[tuple[int, int]]:
    """pysbd returns substrings; locate each one so that offsets are exact, whatever it did."""
    spans = []
    cursor = 0
    for piece in _segmenter(lang).segment(line):
        found = line.find(piece, cursor)
        if found < 0:  # pysbd altered the text: keep the rest of the line as one sentence
            spans.append((cursor, len(line)))
            cursor = len(line)
            break
        spans.append((found, found + len(piece)))
        cursor = found + len(piece)
    if cursor < len(line):
        spans.append((cursor, len(line)))
    return spans


def split_sentences(clean: CleanText, lang: str) -> list[Sentence]:
    """Lines first (headlines and bullets carry no full stop), then pysbd's rules per language."""
    sentences = []
    for line_match in re.finditer(r"[^\n]+", clean.text):
        offset = line_match.start()
        for start, end in _sentence_spans_in_line(line_match.group(), lang):
            start, end = _strip_span(clean.text, offset + start, offset + end)
            if end > start and any(ch.isalnum() for ch in clean.text[start:end]):
                o_start, o_end = clean.original_span(start, end)
                sentences.append(Sentence(o_start, o_end, clean.text[start:end]))
    return sentences


def _split_long_sentence(
    sentence: Sentence, clean: CleanText, max_tokens: int, enc_name: str
) -> list[Sentence]:
    """A 'sentence' over budget (a run-on list, a table) is cut at token boundaries, near spaces."""
    enc = encoding(enc_name)
    tokens = enc.encode(sentence.text, disallowed_special=())
    if len(tokens) <= max_tokens:
        return [sentence]
    _, char_starts = enc.decode_with_offsets(tokens)
    cuts = [0]
    for i in range(max_tokens, len(tokens), max_tokens):
        cut = char_starts[i]
        space = sentence.text.rfind(" ", cuts[-1] + 1, cut)
        cuts.append(space + 1 if space > cuts[-1] else cut)
    cuts.append(len(sentence.text))
    base = clean.clean_offset(sentence.start)
    pieces = []
    for a, b in itertools.pairwise(cuts):
        a, b = _strip_span(sentence.text, a, b)
        if b > a:
            o_start, o_end = clean.original_span(base + a, base + b)
            pieces.append(Sentence(o_start, o_end, sentence.text[a:b]))
    return pieces


def chunk_sentences(
    sentences: Sequence[Sentence], clean: CleanText, settings: ChunkingSettings
) -> list[Chunk]:
    """Whole sentences packed up to the token budget; optional sentence overlap between chunks."""
    units: list[tuple[Sentence, int]] = []
    for sentence in sentences:
        for piece in _split_long_sentence(sentence, clean, settings.max_tokens, settings.encoding):
            units.append((piece, count_tokens(piece.text, settings.encoding)))
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, budget = i, 0
        while j < len(units) and (j == i or budget + units[j][1] <= settings.max_tokens):
            budget += units[j][1]
            j += 1
        members = tuple(s for s, _ in units[i:j])
        chunks.append(_make_chunk(members, clean, budget))
        if j >= len(units):
            break
        i = max(i + 1, j - settings.overlap_sentences)
    return chunks


def _make_chunk(members: tuple[Sentence, ...], clean: CleanText, n_tokens: int) -> Chunk:
    start, end = members[0].start, members[-1].end
    clean_start = clean.clean_offset(start)
    clean_end = clean.clean_offset(end - 1) + 1
    return Chunk(start, end, clean.text[clean_start:clean_end], members, n_tokens)


def normalize(text: str) -> str:
    """Width and case folding, so full-width digits and letters match their ASCII forms."""
    return unicodedata.normalize("NFKC", text).casefold()


@lru_cache(maxsize=32)
def _stemmer(lang: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(_SNOWBALL[lang]) if lang in _SNOWBALL else None


@lru_cache(maxsize=32)
def stopwords(lang: str) -> frozenset[str]:
    if lang not in _STOPWORD_LISTS:
        return frozenset()
    import bm25s.stopwords

    return frozenset(getattr(bm25s.stopwords, _STOPWORD_LISTS[lang]))


# How a sentence ends tells its form: the article's own question, or a heading (no final stop).
QUESTION_END = ("?", "？", "¿")
SENTENCE_END = tuple(".!?。！？…\"'”’»)")

# Names: capitalised words after the first word, product codes and numbers; they read the same
# in every language written in Latin script, so they may match across languages.
NAME_TERM = re.compile(r"(?<=\s)(?:[A-ZÀ-ÖØ-Þ][\w-]*|\w*\d[\w.,-]*)")


_LATIN_IN_CJK = re.compile(r"[A-Za-z][A-Za-z0-9-]*\d[A-Za-z0-9-]*|\d[\d.,]*|[A-Z][A-Za-z-]+")


def name_terms(text: str) -> list[str]:
    """Names, codes and numbers: what reads the same across languages. In text with no spaces
    between words (Chinese), the Latin-script runs and numbers: H200, HBM3E, 25."""
    if re.search(_CJK_RUN, text):
        return _LATIN_IN_CJK.findall(text)
    return NAME_TERM.findall(f" {text}")


def cjk_bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def lexical_tokens(text: str, langs: Iterable[str]) -> list[str]:
    """BM25 tokens: CJK character bigrams, locale-free numbers, stemmed words without stopwords.

    Numbers drop their separators, so German `200.000` and English `200,000` meet as `200000`.
    Words are stemmed once per language in `langs`: documents pass their own language, queries
    pass every language of the index, since a question may share names and terms with any article.
    """
    langs = tuple(dict.fromkeys(langs)) or ("en",)
    tokens: list[str] = []
    words: list[str] = []
    folded = normalize(text)
    if _PERCENT.search(folded):
        tokens.append(PERCENT_TOKEN)
        folded = _PERCENT.sub(" ", folded)
    for match in _LEXEME.finditer(folded):
        if match.group("cjk"):
            tokens.extend(cjk_bigrams(match.group("cjk")))
        elif match.group("num"):
            tokens.append(_NUMBER_SEPARATORS.sub("", match.group("num")))
        else:
            words.append(match.group("word"))
    stop = frozenset().union(*(stopwords(lang) for lang in langs))
    kept = [w for w in words if w not in stop]
    for lang in langs:
        stemmer = _stemmer(lang)
        tokens.extend(stemmer.stemWords(kept) if stemmer else kept)
    return tokens if len(langs) == 1 else list(dict.fromkeys(tokens))
