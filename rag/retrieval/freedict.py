"""German/Spanish↔English word glosses from Debian's FreeDict dictionaries (dictd format).

Why: questions come in one language and the articles that answer them in another. BM25 cannot
see that "Speicher" and "memory" or "pedido" and "order" are one word, so a retriever adds a
few glosses of the question's content words to its lexical query. FreeDict's dictionaries (GPL,
`dict-freedict-*` Debian packages, installed under /usr/share/dictd) load from disk with no
network. deu-eng and eng-deu come from the Ding dictionary and are large (~500k entries each);
spa-eng and eng-spa come from Ergane and are small (~5k headwords), so Spanish coverage is thin:
common news verbs such as "invertir" are in neither Spanish dictionary.

A dictd dictionary is two files: `NAME.index`, lines `headword<TAB>offset<TAB>length` with the
numbers in dictd's base64, and `NAME.dict.dz`, gzip-readable text whose bytes
[offset, offset + length) are one entry: a header line (headword /pronunciation/ <pos>), gloss
lines (comma or semicolon separated, with [domain.] and <pos> tags), then examples, "Note:",
"Synonyms:" and "see:" lines, which are skipped.

Each pair's table (headword as the dictionary writes it -> ranked glosses of at most two words)
is built from the pair's own dictionary together with the reverse one read backwards (eng-spa's
"invest: colocar" gives es→en "colocar: invest"; a sense either dictionary gives counts toward a
gloss's rank). Building de↔en reads ~95 MB (deu-eng) plus ~76 MB (eng-deu) of text and takes
about 30 s for both directions, so the tables are pickled under `user_cache_dir()` keyed by both
files' size and mtime; loading a pickle takes about 0.15 s (de↔en; es↔en: a few ms), once per
process per pair. A lookup then costs 2-10 µs.
"""

from __future__ import annotations

import gzip
import os
import pickle
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from rag import config
from rag.config import user_cache_dir

__all__ = [
    "AVAILABLE_PAIRS",
    "dictionary_path",
    "glosses",
]

AVAILABLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("de", "en"),
    ("en", "de"),
    ("es", "en"),
    ("en", "es"),
)

_ISO_639_3 = {"de": "deu", "en": "eng", "es": "spa"}  # FreeDict names files by ISO 639-3
_CACHE_FORMAT = 2  # bump when the table changes shape or meaning
_SEP = "\t"  # a headword's glosses are stored joined, to keep the pickle small
_MAX_STORED = 16  # glosses kept per headword; callers take the first few words
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {char: value for value, char in enumerate(_B64)}


def _word_set(text: str) -> frozenset[str]:
    """Whitespace-separated word list -> set (keeps the long lists below readable)."""
    return frozenset(text.split())


# Domain tags that mark the senses a news corpus (tech, business, politics) talks about:
# "Speicher" is first an attic in Ding, but "[comp.] memory" is the sense news means.
# Only these: favouring [pol.] made "order" a German "Stand" (estate of the realm) first.
_FAVOURED = _word_set("comp. econ. fin. electr. techn. telco.")
# Register and regional tags of senses a news article almost never means.
_DISFAVOURED = frozenset(
    [
        *_word_set("poet. archaic obs. dated veraltet veraltend alt altertümlich selten rare"),
        *_word_set("vulg. slang humor. pej. euphem. iron. fig. übtr. Sprw. prov. Bayr. BW"),
        *["becoming dated", "former name", "frühere Bezeichnung", "children's speech"],
        *["Kindersprache", "Jugendsprache", "Jägersprache", "hunters' parlance"],
    ]
)

# Placeholders for objects in headwords and glosses ("etw. bestellen", "book sth."): dropped,
# so that "bestellen" finds the entries written "etw. bestellen" and "book sth." is one word.
_PLACEHOLDER = re.compile(
    r"(?<!\w)(?:sb\.'s|sth\.|sb\.|one's|oneself|etw\.|jdn\.|jdm\.|jds\.|jd\.)(?!\w)",
    re.IGNORECASE,
)
_LEADING_PLACEHOLDER = re.compile(r"^(?:sich|to)\s+(?=\S)", re.IGNORECASE)
# The header line: headword, then /pronunciation/ and <pos> when the entry has them.
_HEADER = re.compile(r"^\s*(.+?)(?:\s+/[^/]+/)?(?:\s+<[^>]*>)?\s*$")
_NUMBERING = re.compile(r"^\d+\.\s*")
_LEADING_TAGS = re.compile(r"^(?:\s*\[[^\]]*\])+")
_TAG = re.compile(r"\[([^\]]*)\]")
_BRACKETED = re.compile(r"\[[^\]]*\]|<[^>]*>|\{[^}]*\}|\([^()]*\)")
_ABBREVIATION = re.compile(r"^\w{1,4}\.$")
_SPACES = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"\w+(?:['’-]\w+)*")
_SKIPPED_LINE = ('"', "„", "Note:", "Synonym", "see:", "*")

# Function and question words that a two-word gloss ("to order", "der Speicher", "de memoria")
# may contain, or that a question word glosses to (cuánto: "how"), and that would only add
# noise to a BM25 query.
_STOP = _word_set(
    """
    a an the to of in on at by for from with and or as is are be not no its it one sb sth
    how what which who whom whose when where why
    der die das den dem des ein eine einen einem einer eines und oder zu von mit im am an auf
    für bei aus sich etw jdn jdm jds nicht wie was welche welcher welches wer wann wo warum
    el la lo los las un una unos unas de del al y o e u en por para con se que qué cómo cuál
    quién cuándo dónde
    """
)

# Inflections taken off (suffix, replacement), tried in this order when the word as written is
# unknown. German: plural and case endings (Speichers; an umlaut plural only if listed).
# Spanish: plurals (acciones -> acción), feminine adjectives (nuevas, nueva -> nuevo). English:
# plurals. Each leaves at least three letters.
_SUFFIX_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "de": (("en", ""), ("es", ""), ("er", ""), ("em", ""), ("n", ""), ("e", ""), ("s", "")),
    "es": (("iones", "ión"), ("es", ""), ("as", "o"), ("os", "o"), ("s", ""), ("a", "o")),
    "en": (("ies", "y"), ("es", ""), ("s", "")),
}
# Spanish future and conditional: the infinitive plus an ending (invertirá -> invertir).
_SPANISH_INFINITIVE_ENDINGS = (
    "íamos", "íais", "emos", "éis", "ían", "ías", "ía", "án", "ás", "á", "é",
)  # fmt: skip

_Parsed = dict[str, list[tuple[str, int, int]]]  # headword -> (gloss, tier, entry number)


def _directory() -> Path:
    """The folder to read (RAG_FREEDICT_DIR, through rag.config, the one module that reads the
    environment)."""
    return config.freedict_dir()


def dictionary_path(src: str, tgt: str, directory: Path | None = None) -> Path | None:
    """The `.index` file of the src→tgt FreeDict dictionary, or None when it is not installed.

    The `.dict.dz` with the entries lies beside it (`path.with_suffix(".dict.dz")`).
    """
    codes = (_ISO_639_3.get(src.lower()), _ISO_639_3.get(tgt.lower()))
    if None in codes:
        return None
    index = (directory or _directory()) / f"freedict-{codes[0]}-{codes[1]}.index"
    if index.is_file() and _data_path(index).is_file():
        return index
    return None


def _data_path(index: Path) -> Path:
    return index.with_suffix(".dict.dz")


def _b64(text: str) -> int:
    """dictd's base64 number: big-endian digits in the alphabet A-Z a-z 0-9 + /."""
    value = 0
    for char in text:
        value = value * 64 + _B64_VALUE[char]
    return value


def _split_pieces(line: str) -> list[str]:
    """Split a gloss line on commas and semicolons that are not inside brackets."""
    pieces, depth, start = [], 0, 0
    for i, char in enumerate(line):
        if char in "([{<":
            depth += 1
        elif char in ")]}>":
            depth = max(0, depth - 1)
        elif char in ",;" and depth == 0:
            pieces.append(line[start:i])
            start = i + 1
    pieces.append(line[start:])
    return pieces


def _strip_placeholders(text: str) -> str:
    text = _SPACES.sub(" ", _PLACEHOLDER.sub(" ", text)).strip()
    return _LEADING_PLACEHOLDER.sub("", text)


def _clean(piece: str) -> str:
    """One gloss without tags, parentheses and placeholders, lowercased; '' if nothing is left."""
    previous = None
    while previous != piece:
        previous = piece
        piece = _BRACKETED.sub(" ", piece)
    piece = _strip_placeholders(piece).strip(" ,;:!?\"'…/-–")
    if _ABBREVIATION.match(piece):
        return ""  # "Fa." for Firma: an abbreviation, not a word an article would use
    piece = piece.strip(" .")
    return piece.lower() if _LETTER.search(piece) else ""


def _tier(sense_tags: Iterable[str], word_tags: Iterable[str]) -> int:
    """0 for a news domain, 2 for a dated, poetic or dialect register, 1 otherwise.

    A domain names the sense, wherever the line puts it (deu-eng leads with "[comp.] memory",
    eng-deu ends with "Auftrag, Order [ugs.] [econ.]"); a register tag marks only the gloss it
    follows ("attic, loft [Br.], garret [poet.]": only garret is poetic).
    """
    if any(tag in _DISFAVOURED or tag.endswith("dt.") for tag in word_tags):
        return 2
    return 0 if any(tag in _FAVOURED for tag in sense_tags) else 1


def _entry_glosses(entry: str) -> list[tuple[str, int]]:
    """(gloss, tier) of an entry's gloss lines, each gloss at most two words."""
    out: list[tuple[str, int]] = []
    for raw in entry.split("\n")[1:]:  # the first line is the headword and its pronunciation
        line = raw.strip()
        if not line or line.startswith(_SKIPPED_LINE):
            continue
        line = _NUMBERING.sub("", line)
        leading = _LEADING_TAGS.match(line)
        line_tags = _TAG.findall(leading.group()) if leading else []
        sense_tags = [tag.strip() for tag in _TAG.findall(line)]
        for piece in _split_pieces(line[leading.end() :] if leading else line):
            gloss = _clean(piece)
            if gloss and len(gloss.split()) <= 2:
                word_tags = [tag.strip() for tag in [*line_tags, *_TAG.findall(piece)]]
                out.append((gloss, _tier(sense_tags, word_tags)))
    return out


def _headword_key(headword: str) -> str:
    """The headword as looked up: placeholders dropped ("etw. bestellen" -> "bestellen")."""
    return _strip_placeholders(headword) or headword


def _parse(index: Path) -> _Parsed:
    """headword (as the entry writes it) -> (gloss, tier, entry number) for every entry."""
    with gzip.open(_data_path(index)) as handle:
        data = handle.read()
    table: _Parsed = {}
    seen: set[int] = set()
    with index.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3 or fields[0].startswith("00") or not fields[1]:
                continue  # 00-database-info and friends describe the dictionary itself
            offset, length = _b64(fields[1]), _b64(fields[2])
            if offset in seen:
                continue
            seen.add(offset)
            entry = data[offset : offset + length].decode("utf-8", errors="replace")
            header_match = _HEADER.match(entry.split("\n", 1)[0])
            header = header_match.group(1) if header_match else fields[0]
            rows = table.setdefault(_headword_key(header), [])
            rows.extend((gloss, tier, number) for gloss, tier in _entry_glosses(entry))
    return table


def _reversed(table: _Parsed) -> _Parsed:
    """The reverse dictionary read backwards: gloss -> (headword, tier, entry number)."""
    out: _Parsed = {}
    for headword, rows in table.items():
        target = _clean(headword)
        if not target or len(target.split()) > 2:
            continue
        for gloss, tier, number in rows:
            out.setdefault(gloss, []).append((target, tier, number))
    return out


def _ranked(rows: list[tuple[str, int, int]]) -> list[str]:
    """Glosses best first: a news domain before plain before a dated or dialect register; then
    the gloss that more senses pair with the headword, in either dictionary (Gebühr: "fee" is
    one sense in deu-eng but several in eng-deu); then the order the dictionaries give."""
    best: dict[str, tuple[int, int, int]] = {}  # gloss -> (tier, -senses, first position)
    for position, (gloss, tier, _number) in enumerate(rows):
        old = best.get(gloss)
        best[gloss] = (min(old[0], tier), old[1] - 1, old[2]) if old else (tier, -1, position)
    return sorted(best, key=best.__getitem__)


def _combined(direct: _Parsed, reverse: _Parsed) -> dict[str, str]:
    """headword -> ranked glosses joined with _SEP, from the pair's dictionary and the reverse.

    The reverse's keys are cleaned glosses, hence lowercased: their senses join the forward
    headwords written with the same letters in any case (speicher -> Speicher), or stand
    under the lowercased key when the forward dictionary lacks the word.
    """
    by_lower: dict[str, list[str]] = {}
    for headword in direct:
        by_lower.setdefault(headword.lower(), []).append(headword)
    rows = {headword: list(found) for headword, found in direct.items()}
    for key, found in reverse.items():
        for headword in by_lower.get(key, [key]):
            rows.setdefault(headword, []).extend(found)
    table = {}
    for headword, found in rows.items():
        ranked = _ranked(found)
        if ranked:
            table[headword] = _SEP.join(ranked[:_MAX_STORED])
    return table


def _build(forward: Path, backward: Path | None) -> tuple[dict[str, str], dict[str, str] | None]:
    """The forward pair's table and, when the reverse dictionary is installed, the reverse
    pair's: both need both files parsed, so they are built together (~30 s for de↔en)."""
    direct = _parse(forward)
    if backward is None:
        return _combined(direct, {}), None
    other = _parse(backward)
    return _combined(direct, _reversed(other)), _combined(other, _reversed(direct))


def _cache_file(forward: Path, backward: Path | None) -> Path:
    parts = []
    for index in (forward, backward):
        if index is not None:
            stat = _data_path(index).stat()
            parts.append(f"{stat.st_size}-{stat.st_mtime_ns}")
    name = f"{forward.stem}-v{_CACHE_FORMAT}-{'-'.join(parts)}.pickle"
    return user_cache_dir() / name


def _read_cache(cache: Path) -> dict[str, str] | None:
    try:
        with cache.open("rb") as handle:
            table = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        return None
    return table if isinstance(table, dict) else None


def _write_cache(cache: Path, table: dict[str, str]) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            pickle.dump(table, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home only costs the rebuild next time


@lru_cache(maxsize=8)  # four pairs; a changed RAG_FREEDICT_DIR may add a few
def _table(forward: Path, backward: Path | None) -> dict[str, str]:
    """The pair's table from the pickle cache, rebuilt when either dictionary file changed.

    A rebuild writes the reverse pair's pickle too, since it parses the same two files.
    """
    cache = _cache_file(forward, backward)
    table = _read_cache(cache)
    if table is not None:
        return table
    table, other = _build(forward, backward)
    _write_cache(cache, table)
    if backward is not None and other is not None:
        _write_cache(_cache_file(backward, forward), other)
    return table


def _pair_table(src: str, tgt: str) -> dict[str, str] | None:
    """The loaded table of an installed pair (once per process), None when not installed."""
    forward, backward = _installed(src, tgt, _directory())
    return None if forward is None else _table(forward, backward)


@lru_cache(maxsize=32)
def _installed(src: str, tgt: str, directory: Path) -> tuple[Path | None, Path | None]:
    """The pair's and the reverse pair's index files, looked for once per folder: the file
    checks would otherwise be most of a lookup's cost."""
    return dictionary_path(src, tgt, directory), dictionary_path(tgt, src, directory)


def _candidates(word: str, src: str) -> list[str]:
    """Forms to look up, in order: as written, lowercased, capitalised (German nouns), then
    the word with an inflection taken off (_SUFFIX_RULES), lowercased and capitalised."""
    forms = [word, word.lower(), word[:1].upper() + word[1:].lower()]
    lower = word.lower()
    stems: list[str] = []
    if src == "es":
        for suffix in _SPANISH_INFINITIVE_ENDINGS:
            stem = lower[: -len(suffix)]
            if lower.endswith(suffix) and stem.endswith(("ar", "er", "ir")) and len(stem) >= 4:
                stems.append(stem)
    for suffix, replacement in _SUFFIX_RULES.get(src, ()):
        if lower.endswith(suffix) and len(lower) - len(suffix) >= 3:
            stems.append(lower[: -len(suffix)] + replacement)
    for stem in stems:
        forms.extend([stem, stem[:1].upper() + stem[1:]])
    return list(dict.fromkeys(forms))


def glosses(word: str, src: str, tgt: str, limit: int = 4) -> list[str]:
    """Up to `limit` single-word translations of `word` from src to tgt (ISO 639-1 codes).

    Words of the best ranked glosses of the first form that the dictionary knows (see
    `_candidates`), lowercased, without function words, each once: "Speicher" (de→en) gives
    ['memory', 'storage', 'store', ...]. Glosses longer than two words are left out, since
    they are explanations rather than translations. Returns [] for an unknown word, a pair
    that is not installed; it never raises for a missing dictionary. (Leave-one-language-out
    evaluation holds a language back one level up, in rag/retrieval/pivot.py.)
    """
    src, tgt, word = src.lower(), tgt.lower(), word.strip()
    if not word or limit <= 0:
        return []
    table = _pair_table(src, tgt)
    if table is None:
        return []
    for form in _candidates(word, src):
        joined = table.get(form)
        if not joined:
            continue
        words: list[str] = []
        for gloss in joined.split(_SEP):
            words.extend(w for w in _WORD.findall(gloss) if w not in _STOP and len(w) > 1)
        found = list(dict.fromkeys(words))[:limit]
        if found:
            return found
    return []
