"""Figures as typed values, so `380 billion yuan` and `3800亿元` compare equal.

A figure is a number with its scale applied, a unit (`%`, a currency code, `x` for multipliers,
`GB`, `TB/s`, `year`, `date`, or none for a count) and an optional upper bound for ranges. The
parser reads the separators by the text's language (`200.000` is two hundred thousand in German,
`4,51` is four point five one anywhere) and scale words in en/es/de/fr/zh (German and Spanish
`Billion`/`billón` are 10¹²). Verification checks that every figure in an answer sentence appears,
as an equal value, in a passage that sentence cites.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rag.checks.citations import CITATION_GROUP, REFERENCE_MARK, answer_sentences

# ------------------------------------------------------------------ vocabulary

_LONG_SCALE_LANGS = {"de", "es", "fr", "it", "pt", "nl"}  # billion = 10¹² there
_DOT_THOUSANDS_LANGS = {"de", "es", "fr", "it", "pt", "nl", "da", "id", "tr"}

_SCALE_WORDS: dict[str, float] = {
    "thousand": 1e3, "k": 1e3, "tsd": 1e3, "tausend": 1e3, "mil": 1e3, "mille": 1e3,
    "million": 1e6, "millions": 1e6, "mn": 1e6, "mio": 1e6, "millionen": 1e6,
    "millón": 1e6, "millon": 1e6, "millones": 1e6,
    "billion": 1e9, "billions": 1e9, "bn": 1e9, "mrd": 1e9, "milliarde": 1e9,
    "milliarden": 1e9, "milliard": 1e9, "milliards": 1e9, "millardo": 1e9, "millardos": 1e9,
    "mil millones": 1e9, "trillion": 1e12, "trillions": 1e12, "tn": 1e12,
    "billón": 1e12, "billones": 1e12, "billon": 1e12, "billionen": 1e12,
}  # fmt: skip
_CJK_SCALES = {"万亿": 1e12, "千亿": 1e11, "百亿": 1e10, "十亿": 1e9, "亿": 1e8, "千万": 1e7,
               "百万": 1e6, "万": 1e4, "千": 1e3}  # fmt: skip

CURRENCY_PREFIX = {
    "nt$": "TWD", "twd": "TWD", "us$": "USD", "u.s.$": "USD", "usd": "USD", "$": "USD",
    "hk$": "HKD", "hkd": "HKD",
    "€": "EUR", "eur": "EUR", "£": "GBP", "gbp": "GBP", "¥": "CNY", "rmb": "CNY", "cny": "CNY",
}  # fmt: skip
CURRENCY_SUFFIX = {
    "us-dollar": "USD", "us dollars": "USD", "us dollar": "USD", "u.s. dollars": "USD",
    "dollars": "USD", "dollar": "USD", "dólares": "USD", "dolares": "USD", "dólar": "USD",
    "usd": "USD", "hk dollars": "HKD", "hong kong dollars": "HKD", "hkd": "HKD",
    "hongkong-dollar": "HKD", "yuan": "CNY", "yuanes": "CNY", "renminbi": "CNY", "rmb": "CNY",
    "cny": "CNY", "new taiwan dollars": "TWD", "taiwan dollars": "TWD", "taiwan-dollar": "TWD",
    "twd": "TWD", "新台币": "TWD", "元新台币": "TWD", "euros": "EUR", "euro": "EUR", "eur": "EUR",
    "€": "EUR",
    "yen": "JPY", "won": "KRW", "日元": "JPY", "韩元": "KRW", "円": "JPY",
    "美元": "USD", "港元": "HKD", "港币": "HKD", "人民币": "CNY", "元": "CNY", "欧元": "EUR",
}  # fmt: skip
_PERCENT = {"%", "％", "percent", "per cent", "por ciento", "prozent", "pour cent", "pct"}
_POINTS = {"percentage points", "percentage point", "prozentpunkte", "prozentpunkt",
           "puntos porcentuales", "pp"}  # fmt: skip
_MULTIPLIER = {"倍", "times", "fold", "-fold", "x", "×", "veces", "mal", "-mal", "fach", "-fach"}
UNITS = ("TB/s", "GB/s", "Gbps", "TFLOPS", "PFLOPS", "GB", "TB", "MB", "PB", "nm", "GHz",
          "MHz", "kW", "MW", "W")  # fmt: skip

MONTHS = {
    **{m: i for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july",
       "august", "september", "october", "november", "december"], 1)},
    **{m: i for i, m in enumerate(["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
       "agosto", "septiembre", "octubre", "noviembre", "diciembre"], 1)},
    **{m: i for i, m in enumerate(["januar", "februar", "märz", "april", "mai", "juni", "juli",
       "august", "september", "oktober", "november", "dezember"], 1)},
    **{m: i for i, m in enumerate(["janvier", "février", "mars", "avril", "mai", "juin",
       "juillet", "août", "septembre", "octobre", "novembre", "décembre"], 1)},
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12, "okt": 10, "dez": 12, "jän": 1,
}  # fmt: skip


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_CJK_DIGITS = "零〇一二两三四五六七八九"
_CJK_NUMERAL = f"[{_CJK_DIGITS}十百千万亿]+"
_ARABIC = r"\d{1,3}(?:[.,\u00a0\u202f']\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_MONTH_WORDS = _alternation(MONTHS)

_DATE = re.compile(
    r"(?P<iso>(?<!\d)(?P<iy>(?:19|20)\d\d)-(?P<im>[01]\d)-(?P<id>[0-3]\d)(?!\d))"
    r"|(?P<zh>(?:(?P<zy>(?:19|20)\d\d)\s*年\s*)?(?P<zm>1[0-2]|0?[1-9])\s*月(?:\s*(?P<zd>[0-3]?\d)\s*日)?)"
    rf"|(?P<dmy>(?<![\w.])(?P<dd>[0-3]?\d)\.?\s*(?:de\s+)?(?P<dm>{_MONTH_WORDS})\.?(?:\s+(?:de\s+)?(?P<dy>(?:19|20)\d\d))?(?![\w]))"
    rf"|(?P<mdy>(?<![\w])(?P<mm>{_MONTH_WORDS})\.?\s+(?:(?P<md>[0-3]?\d)(?:st|nd|rd|th)?,?\s+)?(?:(?:de|of)\s+)?(?P<my>(?:19|20)\d\d)(?!\d))",
    re.IGNORECASE,
)

_SCALE_PATTERN = (
    rf"(?:\s*(?P<cjkscale>{_alternation(_CJK_SCALES)})"
    rf"|\s?(?P<scale>{_alternation(_SCALE_WORDS)})\b\.?)"
)
_SUFFIX_PATTERN = (
    rf"\s?(?:de\s+|d['’])?(?P<suffix>{_alternation(CURRENCY_SUFFIX)}|{_alternation(_PERCENT)}"
    rf"|{_alternation(_POINTS)}|{_alternation(_MULTIPLIER)}|{_alternation(UNITS)})"
)
_ATOM = re.compile(
    rf"(?P<prefix>{_alternation(CURRENCY_PREFIX)})?\s?"
    rf"(?:(?<![A-Za-z\d.,])(?P<arabic>{_ARABIC})|(?P<cjk>{_CJK_NUMERAL}))"
    rf"(?![A-Za-z]*\d)"  # not a product code (H200, 5G, HBM3E)
    rf"{_SCALE_PATTERN}?"
    rf"(?:{_SUFFIX_PATTERN}(?![A-Za-z]))?",
    re.IGNORECASE,
)
_FRENCH_GROUP = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d])")
_CLOCK = re.compile(r"(?<!\d)[0-2]?\d:[0-5]\d(?!\d)")
_PERCENT_ZH = re.compile(
    rf"百分之(?P<num>{_CJK_NUMERAL}|{_ARABIC})(?:点(?P<frac>[{_CJK_DIGITS}]+))?"
)
_RANGE_JOIN = re.compile(r"\s*(?:-|–|—|~|〜|～|至|到|to|bis|al|a|à)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Figure:
    """A number as written (`text`, `start`, `end`) and as a typed value."""

    text: str
    value: float
    unit: str | None
    kind: str
    start: int
    end: int
    high: float | None = None
    scale: float = field(default=1.0, compare=False)  # the scale word's factor, for ranges

    def same_value(self, other: Figure) -> bool:
        if self.unit != other.unit or (self.high is None) != (other.high is None):
            return False
        if not _close(self.value, other.value):
            return False
        return self.high is None or _close(self.high, other.high or 0.0)

    def covers(self, other: Figure) -> bool:
        """A range `50%-60%` supports either end, and an equal value supports itself."""
        if self.same_value(other):
            return True
        if self.high is None or other.high is not None or self.unit != other.unit:
            return False
        return _close(other.value, self.value) or _close(other.value, self.high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "value": self.value,
            "high": self.high,
            "unit": self.unit,
            "kind": self.kind,
        }


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


# ------------------------------------------------------------------ parsing


def parse_arabic(text: str, lang: str = "en") -> float:
    """`200.000` (de) = 200000, `200,000` (en) = 200000, `4,51` = 4.51, `1.234,5` = 1234.5."""
    digits = text.replace("\u00a0", "").replace("\u202f", "").replace("'", "")
    if "." in digits and "," in digits:
        decimal = "." if digits.rfind(".") > digits.rfind(",") else ","
        return float(digits.replace("," if decimal == "." else ".", "").replace(decimal, "."))
    for sep in (".", ","):
        if sep not in digits:
            continue
        groups = digits.split(sep)
        if len(groups) > 2:  # 1,000,000 or 1.000.000
            return float("".join(groups))
        if len(groups[1]) != 3:  # 4,51 or 4.8: a decimal point whatever the language
            return float(groups[0] + "." + groups[1])
        thousands = sep == "," if lang not in _DOT_THOUSANDS_LANGS else sep == "."
        return float("".join(groups)) if thousands else float(groups[0] + "." + groups[1])
    return float(digits)


def parse_cjk_numeral(text: str) -> float:
    """两百万 = 2000000, 十三 = 13, 一万五千 = 15000, 三千八百亿 = 3.8e11, 四万亿 = 4e12."""
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
    small = {"十": 10, "百": 100, "千": 1000}
    yi = wan = below = number = 0.0
    for ch in text:
        if ch in digits:
            number = digits[ch]
        elif ch in small:
            below += (number or 1) * small[ch]
            number = 0
        elif ch == "万":
            wan = (wan + below + number or 1) * 10_000
            below = number = 0
        elif ch == "亿":
            yi = (yi + wan + below + number or 1) * 100_000_000
            wan = below = number = 0
    return yi + wan + below + number


def _scale(match: re.Match[str], lang: str) -> float:
    if match.group("cjkscale"):
        return _CJK_SCALES[match.group("cjkscale")]
    word = (match.group("scale") or "").lower()
    if not word:
        return 1.0
    if word in ("billion", "billions") and lang in _LONG_SCALE_LANGS:
        return 1e12
    if word == "k" and not match.group("prefix"):
        return 1.0  # a bare "k" is rarely a scale outside money
    return _SCALE_WORDS[word]


def _typed(match: re.Match[str], lang: str) -> tuple[float, str | None, str]:
    if match.group("arabic"):
        number = parse_arabic(match.group("arabic"), lang)
    else:
        number = parse_cjk_numeral(match.group("cjk"))
    value = number * _scale(match, lang)
    prefix = (match.group("prefix") or "").lower()
    suffix = (match.group("suffix") or "").lower()
    if prefix:
        return value, CURRENCY_PREFIX[prefix], "money"
    if suffix in CURRENCY_SUFFIX:
        return value, CURRENCY_SUFFIX[suffix], "money"
    if suffix in _PERCENT:
        return value, "%", "percent"
    if suffix in _POINTS:
        return value, "pp", "percent"
    if suffix in _MULTIPLIER:
        return value, "x", "multiplier"
    if suffix:
        unit = next(u for u in UNITS if u.lower() == suffix)
        return value, unit, "measure"
    raw = match.group("arabic") or ""
    if re.fullmatch(r"(?:19|20)\d\d", raw) and value == number:
        return value, "year", "year"
    return value, None, "number"


def _dates(text: str) -> list[Figure]:
    out = []
    for m in _DATE.finditer(text):
        if m.group("iso"):
            y, mo, d = int(m.group("iy")), int(m.group("im")), int(m.group("id"))
        elif m.group("zh"):
            y, mo, d = int(m.group("zy") or 0), int(m.group("zm")), int(m.group("zd") or 0)
        elif m.group("dmy"):
            y, mo = int(m.group("dy") or 0), MONTHS[m.group("dm").lower()]
            d = int(m.group("dd"))
        else:
            y, mo, d = int(m.group("my")), MONTHS[m.group("mm").lower()], int(m.group("md") or 0)
        if not 1 <= mo <= 12 or d > 31:
            continue
        value = float(y * 10000 + mo * 100 + d)
        out.append(Figure(m.group(0).strip(), value, "date", "date", m.start(), m.end()))
    return out


def extract(text: str, lang: str = "en") -> list[Figure]:
    """Every figure in `text`, in order; dates first claim their digits, ranges are merged."""
    written = text
    if lang == "fr":  # French groups thousands with a space: 4 500 milliards, 411 000 barils
        text = _FRENCH_GROUP.sub(lambda m: m.group(0).replace(" ", "\u202f"), text)  # offsets stay
    dates = _dates(text)
    taken = [(f.start, f.end) for f in dates]
    taken += [m.span() for m in _CLOCK.finditer(text)]  # 2:07 pm is a time, not two figures
    taken += [m.span() for m in REFERENCE_MARK.finditer(text)]  # "chips [2][3]": no figures

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    atoms: list[Figure] = []
    for m in _PERCENT_ZH.finditer(text):
        raw = m.group("num")
        value = (
            parse_cjk_numeral(raw) if re.fullmatch(_CJK_NUMERAL, raw) else parse_arabic(raw, lang)
        )
        if m.group("frac"):
            value += float("0." + "".join(str(int(parse_cjk_numeral(c))) for c in m.group("frac")))
        atoms.append(Figure(m.group(0), value, "%", "percent", m.start(), m.end()))
        taken.append((m.start(), m.end()))
    for m in _ATOM.finditer(text):
        start, end = m.start(), m.end()
        while end > start and text[end - 1].isspace():
            end -= 1
        if not free(start, end):
            continue
        if m.group("cjk") and not (m.group("suffix") or _is_cjk_amount(m.group("cjk"))):
            continue  # 一定, 万一, 十分: words, not figures
        value, unit, kind = _typed(m, lang)
        scale = _scale(m, lang)
        atoms.append(Figure(written[start:end].strip(), value, unit, kind, start, end, scale=scale))
    atoms.sort(key=lambda f: f.start)
    return sorted(_merge_ranges(text, atoms) + dates, key=lambda f: f.start)


def _is_cjk_amount(numeral: str) -> bool:
    """两百万 and 三千八百亿 are amounts; a lone 一 or a 万 that starts a word is not."""
    return (
        len(numeral) >= 2
        and (numeral[0] in _CJK_DIGITS or numeral[0] == "十")
        and any(c in "十百千万亿" for c in numeral)
    )


def _merge_ranges(text: str, atoms: list[Figure]) -> list[Figure]:
    """`50%-60%`, `50 to 60 per cent`, `50 bis 60 Millionen` become one figure with a high end."""
    out: list[Figure] = []
    i = 0
    while i < len(atoms):
        low = atoms[i]
        high = atoms[i + 1] if i + 1 < len(atoms) else None
        if high is not None and _is_range(text, low, high):
            # "50 to 60 million": the low end borrows the high end's scale and unit.
            value = low.value * (high.scale if low.scale == 1.0 else 1.0)
            out.append(
                Figure(text[low.start : high.end], value, high.unit, high.kind, low.start,
                       high.end, high=high.value, scale=high.scale)
            )  # fmt: skip
            i += 2
            continue
        out.append(low)
        i += 1
    return out


def _is_range(text: str, low: Figure, high: Figure) -> bool:
    if not _RANGE_JOIN.fullmatch(text[low.end : high.start]) or high.kind in ("year", "date"):
        return False
    if low.unit not in (None, high.unit) or low.kind not in ("number", high.kind):
        return False
    return low.value * (high.scale if low.scale == 1.0 else 1.0) < high.value


# ------------------------------------------------------------------ verification


@dataclass(frozen=True)
class FigureCheck:
    figure: Figure
    supported: bool
    citation: int | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.figure.to_dict(), "supported": self.supported, "citation": self.citation}


def verify(
    answer: str, passages: dict[int, tuple[str, str]], lang: str = "en"
) -> list[FigureCheck]:
    """Each figure of `answer` is supported if a passage its sentence cites holds an equal value.

    `passages` maps citation number to (text, language). Each sentence is read in its own
    language (an extractive answer quotes articles in theirs), `lang` being the fallback. Years
    and dates count as figures too: a wrong year misleads as much as a wrong price.
    """
    from rag.lang import ABSTAIN, detect

    checks = []
    for offset, sentence, cited in answer_sentences(answer):
        masked = CITATION_GROUP.sub(lambda m: " " * len(m.group(0)), sentence)
        own = detect(masked, default=lang, candidates=tuple(ABSTAIN))
        # A figure copied as its source writes it (`200.000` from a German article, framed in
        # an English sentence) is read as the cited passage's language reads it, too.
        readings = [extract(masked, own)] + [
            extract(masked, passages[n][1])
            for n in cited
            if n in passages and passages[n][1] != own
        ]
        for fig in readings[0]:
            support = _supporting(fig, cited, passages)
            for other in readings[1:]:
                if support is not None:
                    break
                alike = [f for f in other if (f.start, f.end) == (fig.start, fig.end)]
                if alike and (support := _supporting(alike[0], cited, passages)) is not None:
                    fig = alike[0]
            fig = replace(fig, start=fig.start + offset, end=fig.end + offset)
            checks.append(FigureCheck(fig, support is not None, support))
    return checks


def _supporting(
    fig: Figure, cited: Sequence[int], passages: dict[int, tuple[str, str]]
) -> int | None:
    for n in cited:
        if n not in passages:
            continue
        text, lang = passages[n]
        if any(p.covers(fig) for p in extract(text, lang)):
            return n
    return None


def matches(expected: dict[str, Any], fig: Figure) -> bool:
    """An expected value from the eval set, `{"value", "unit", "high"?}`, equals this figure."""
    wanted = Figure(
        "", float(expected["value"]), expected.get("unit"), "", 0, 0, expected.get("high")
    )
    return wanted.same_value(fig) or fig.covers(wanted)
