"""Whether two reported figures are the same quantity told differently (a conflict), the same
quantity told alike (corroboration), or different facts that merely share a unit.

"200,000 chips per company" and "2 million chips in total" both count chips, but one is per
company and one a total; a 2025 figure and a 2026 one, Alibaba's orders and Tencent's, a
forecast and a result, a day's peak and its close are different facts too. Calling them
"sources differ" misleads a reader, so a conflict needs the same quantity:

- the same measure: the same answer type and unit (`qtypes.figure_type`, the figure parser),
  and no two different measured things (revenue vs profit, orders vs deliveries);
- the same subject: not two different names, read across scripts (阿里巴巴 is Alibaba);
- the same period: no two different years, quarters, halves or months, with "last year" read
  against the article's date;
- the same status: per unit or total alike, forecast or actual alike.

Each test reads the sentence near the figure, so a sentence that gives several figures gives
each its own subject, period and status. Measured on a labelled set of figure pairs written for
this (`eval/conflicts/`, `rag eval-conflicts`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag import lang as langmod
from rag.answerers import qtypes
from rag.checks.figures import CURRENCY_PREFIX, CURRENCY_SUFFIX, MONTHS, UNITS, Figure, extract

# ------------------------------------------------------------------ cue words
# Each is a pattern over lowercased text; Latin words match at a word start (stems), Chinese
# ones anywhere.


def _cues(latin: str, cjk: str = "") -> re.Pattern[str]:
    pattern = rf"(?<![^\W\d_])(?:{latin})"
    return re.compile(f"{pattern}|{cjk}" if cjk else pattern, re.IGNORECASE)


_PER_UNIT = _cues(
    r"per\b(?! (?:cent|day|week|month|year|annum|hour)\b)|each\b|apiece|a piece"
    r"|a (?:share|barrel|unit|chip|car|vehicle|head|container)\b|an? (?:ounce|tonne|ton)\b"
    r"|average|je\b|pro\b(?! (?:tag|woche|monat|jahr)\b)|jeweils|stück|durchschnitt"
    r"|por (?:unidad|acción|barril|persona|habitante|cabeza|contenedor|vehículo|tonelada)\b"
    r"|por cada|cada\b|promedio|media\b|chacun|chaque|moyen"
    r"|par (?:action|baril|personne|habitant|tête|conteneur|unité|véhicule|tonne)\b",
    r"每|单[颗台辆个件股]|人均|均价|平均|各",
)
_FORECAST = _cues(
    r"expect|forecast|project|predict|anticipat|estimat|target|aim|plan|guidance|outlook"
    r"|could\b|would\b|will\b|may\b|might\b|likely|poised|set to|on track|seen\b|agreed to"
    r"|erwart|prognos|rechne|soll\b|sollen|könnte|plant|ziel|voraussicht|schätz|wird\b|werden\b"
    r"|will\b|wollen\b"
    r"|prev[eé]|espera|previsi|pronóstic|podría|objetivo|planea|proyecta|estima"
    r"|[^\W\d_]+(?:ará|erá|irá|arán|erán|irán)\b"
    r"|prévo|prévision|attend|pourrait|vise|objectif|devrait|table sur|[^\W\d_]+(?:era|eront)\b",
    r"预计|预期|预测|预估|计划|目标|有望|将|可能|拟|指引|料将",
)
_ATTRIBUTION = re.compile(
    r"(?:according to|citing|told|reported by|said|laut|zufolge|según|segun|selon|d'après)"
    r"\s+((?:[A-Z][\w.&-]*\s?)+)",
)

# What is measured, as families of words in the product's languages. Two figures measure
# different things when each names a family and they share none: "revenue rose to $10bn" and
# "net profit was $2bn". A figure near no family word is not told apart this way.
_MEASURES: dict[str, re.Pattern[str]] = {
    "revenue": _cues(r"revenue|sales\b|turnover|umsatz|erlös|ingreso|ventas|factura|chiffre d",
                     r"营收|营业收入|收入|销售额|营业额"),
    "profit": _cues(r"profit|earning|net income|net loss|loss\b|gewinn|überschuss|verlust"
                    r"|beneficio|ganancia|utilidad|pérdida|bénéfice|résultat net|perte",
                    r"利润|盈利|净利|亏损|盈余"),
    "operating_profit": _cues(r"operating (?:income|profit|result|loss)|ebit|betriebsergebnis"
                              r"|operativ|beneficio (?:operativo|de explotación)|resultado operativo"
                              r"|résultat (?:d'exploitation|opérationnel)", r"营业利润|经营利润|营业收益"),
    "net_profit": _cues(r"net (?:income|profit|loss)|nettogewinn|überschuss|beneficio neto"
                        r"|bénéfice net|résultat net|perte nette", r"净利"),
    "orders": _cues(r"order|book|bestell|auftr|pedido|encarg|commande", r"订单|订购|下单|订货"),
    "deliveries": _cues(r"deliver|ship|auslief|liefert|entreg|livr|expédi",
                        r"交付|交货|出货|发货"),
    "units_sold": _cues(r"sold\b|sell|verkauf|vend", r"销量|售出|卖出"),
    "exports": _cues(r"export|ausfuhr|exportacion|exportation", r"出口"),
    "imports": _cues(r"import|einfuhr|importacion|importation", r"进口"),
    "production": _cues(r"produc|output|förder|fördr|produz|producción|fabricat",
                        r"产量|生产|产能"),
    "market_value": _cues(r"market (?:value|cap)|valuation|börsenwert|marktwert|marktkapital"
                          r"|capitalizaci|valoraci|capitalisation|valorisation",
                          r"市值|估值"),
    "peak": _cues(r"peak|intraday|as much as|at one point|spitze|höchststand|zeitweise"
                  r"|máximo|maximo|pico|sommet|plus haut|en séance",
                  r"最高|盘中|一度|峰值"),
    "close": _cues(r"clos|ended|finish|settled|schluss|schloss|beendet|cierre|cerr|clôtur"
                   r"|termin", r"收盘|收涨|收跌|报收|收于"),
    "investment": _cues(r"invest|spend|capex|capital expenditure|ausgab|inversi|gasto"
                        r"|dépense", r"投资|投入|支出|资本开支"),
    "fundraising": _cues(r"raise|bond|fundrais|anleihe|kapitalerh|bono|emisión|emprunt"
                         r"|obligat", r"融资|募资|债券|发债"),
    "employees": _cues(r"employ|staff|workforce|job|mitarbeit|beschäftig|stellen|emplead"
                       r"|plantilla|salari|effectif|emploi", r"员工|雇员|岗位|裁员"),
    "users": _cues(r"user|subscriber|nutzer|abonnent|usuario|suscript|utilisateur|abonné",
                   r"用户|订阅"),
    "inflation": _cues(r"inflation|consumer price|teuerung|verbraucherpreis|inflación"
                       r"|precios al consumo|prix à la consommation", r"通胀|消费者价格|CPI"),
    "unemployment": _cues(r"unemploy|jobless|arbeitslos|desempleo|paro\b|chômage",
                          r"失业"),
    "growth": _cues(r"gdp|growth|economy grew|wachstum|bip\b|crecimiento|pib\b|croissance",
                    r"增长|GDP|国内生产总值"),
    "rate": _cues(r"interest rate|rate\b|leitzins|zins|tipo de inter|tasa|taux",
                  r"利率|基准利率"),
    "price": _cues(r"price|prices|cost|preis|kost|precio|coste|costo|prix|coût",
                   r"价格|售价|成本|油价"),
    "fee": _cues(r"fee|surcharge|tariff|levy|duty|tax|gebühr|abgabe|zoll|steuer|tasa\b"
                 r"|arancel|recargo|impuesto|taxe|droit de douane|redevance",
                 r"费用|关税|分成|附加费|税"),
    "stake": _cues(r"stake|share of|market share|anteil|participaci|cuota|part de",
                   r"份额|持股|股份"),
}  # fmt: skip

# A family that names a kind of another ("net profit" of "profit") is told apart only from
# its siblings: net and operating profit differ, profit and net profit may be one figure.
_PARENT = {"operating_profit": "profit", "net_profit": "profit"}

# Periods. Quarters and halves in the product's languages; years and months come from the
# figure parser; relative years ("last year") are read against the article's date.
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4,
    "erste": 1, "ersten": 1, "zweite": 2, "zweiten": 2, "dritte": 3, "dritten": 3,
    "vierte": 4, "vierten": 4, "1.": 1, "2.": 2, "3.": 3, "4.": 4, "primer": 1, "primero": 1,
    "segundo": 2, "tercer": 3, "tercero": 3, "cuarto": 4, "premier": 1, "deuxième": 2,
    "second ": 2, "troisième": 3, "quatrième": 4, "一": 1, "二": 2, "三": 3, "四": 4,
}  # fmt: skip
_ORDINAL = "|".join(re.escape(k.strip()) for k in sorted(_ORDINALS, key=len, reverse=True))
_QUARTER = re.compile(
    rf"\bQ([1-4])\b|\b([1-4])Q\b"
    rf"|\b({_ORDINAL})[\s-]+(?:fiscal[\s-]+|financial[\s-]+|fiscal-year[\s-]+)?"
    rf"(?:quarter|quartal|trimestre)|(?:quarter|quartal|trimestre)\s+({_ORDINAL})\b"
    rf"|第?([一二三四1-4])季度",
    re.IGNORECASE,
)
# A quarter named by its last month: "the June quarter", "April-June quarter", 9月季度.
_MONTH_QUARTER = re.compile(
    rf"\b({'|'.join(MONTHS)})\s+quarter|(\d{{1,2}})月(?:份)?季度", re.IGNORECASE
)
# Month names standing alone (im Oktober, in November): English ones only capitalised, since
# "may" and "march" are also verbs.
_MONTH_WORD = re.compile(
    rf"(?<![^\W\d_])(?:{'|'.join(m for m in MONTHS if len(m) > 3)})(?![^\W\d_])", re.IGNORECASE
)
_HALF = re.compile(
    r"\bH([12])\b|\b(first|second)[\s-]+half|\b(erste|ersten|zweite|zweiten)[n]?\s+(?:halbjahr|"
    r"jahreshälfte)|(primer|segundo)\s+semestre|(premier|second)\s+semestre|([上下])半年",
    re.IGNORECASE,
)
_RELATIVE_YEAR = {
    -1: re.compile(r"last year|letzten jahr|vergangenen jahr|año pasado|l'an dernier"
                   r"|l'année dernière|去年", re.IGNORECASE),
    0: re.compile(r"this year|dieses jahr|diesem jahr|este año|cette année|今年|本年",
                  re.IGNORECASE),
    1: re.compile(r"next year|nächstes jahr|nächsten jahr|próximo año|l'an prochain|"
                  r"l'année prochaine|明年", re.IGNORECASE),
}  # fmt: skip

# A day's (or period's) high is a different fact from where it ended, said or not: "rose as
# much as 4.8%" against "rose 6.35%".
PEAK = "peak"
_COMPARED = re.compile(
    r"(?:from|than|over|compared (?:with|to)|versus|gegenüber|als|im vergleich zu\w*|frente a"
    r"|respecto a|par rapport à|比|较)\s*(?:the |dem |del |de l'|de )?(?:same period )?"
    r"(?:last year|letzten jahr|vergangenen jahr|año pasado|l'an dernier|l'année dernière|去年)",
    re.IGNORECASE,
)
NEAR_LATIN = 70  # characters either side of a figure that say what it measures
NEAR_CJK = 18


@dataclass(frozen=True)
class Reported:
    """A figure as a reported quantity: what it measures, of whom, when, and as what."""

    figure: Figure
    answer_type: str | None  # the answer type it fills (count, money, percent, ...)
    subjects: frozenset[str]  # the names around it, each in all its spellings
    context: str  # the sentence and its article's headline, casefolded: who "the company" is
    lang: str
    measures: frozenset[str]  # the measured things named near it (revenue, orders, ...)
    years: frozenset[int]
    quarters: frozenset[int]
    halves: frozenset[int]
    months: frozenset[int]  # 1-12
    per_unit: bool
    forecast: bool


def reported_figures(
    sentence: str, lang: str, title: str = "", date: str | None = None
) -> list[Reported]:
    """Every figure of `sentence` other than years and dates, each as a reported quantity."""
    figures = extract(sentence, lang)
    amounts = [f for f in figures if f.kind not in ("year", "date")]
    return [_reported(f, sentence, lang, figures, title, date) for f in amounts]


def reported(
    figure: Figure, sentence: str, lang: str, title: str = "", date: str | None = None
) -> Reported:
    """`figure` (found in `sentence`) as a reported quantity."""
    return _reported(figure, sentence, lang, extract(sentence, lang), title, date)


def _reported(
    figure: Figure,
    sentence: str,
    lang: str,
    figures: Sequence[Figure],
    title: str,
    date: str | None,
) -> Reported:
    near = _near(sentence, figure)
    clause = _clause(sentence, figure)
    quarters = _ordinals(_QUARTER, clause) | _month_quarters(clause)
    halves, months = _halves(clause), _months(clause, figures)
    years = _years(clause, figures, date) or _implied_year(date, quarters, halves, months)
    return Reported(
        figure=figure,
        answer_type=qtypes.figure_type(figure),
        subjects=_names(sentence, lang) | _codes(title) | _implied(sentence, title, lang),
        context=f"{sentence} {title}".casefold(),
        lang=lang,
        measures=frozenset(m for m, cue in _MEASURES.items() if cue.search(near)),
        years=years,
        quarters=quarters,
        halves=halves,
        months=months,
        per_unit=bool(_PER_UNIT.search(clause)),
        forecast=_is_forecast(clause, figure, sentence),
    )


# ------------------------------------------------------------------ the decision


def difference(a: Reported, b: Reported) -> str | None:
    """Why `a` and `b` are different quantities, or None when they are the same one."""
    if (a.figure.kind, a.figure.unit) != (b.figure.kind, b.figure.unit):
        return "different unit"
    if a.answer_type != b.answer_type:
        return "different measure type"
    if (PEAK in a.measures) != (PEAK in b.measures):
        return "a peak vs a level"
    if a.measures and b.measures and not _related_measures(a.measures, b.measures):
        return f"different measure ({', '.join(sorted(a.measures))} vs " \
               f"{', '.join(sorted(b.measures))})"  # fmt: skip
    if a.per_unit != b.per_unit:
        return "per unit vs total"
    if a.forecast != b.forecast:
        return "forecast vs actual"
    for name, x, y in (("year", a.years, b.years), ("quarter", a.quarters, b.quarters),
                       ("half", a.halves, b.halves), ("month", a.months, b.months)):  # fmt: skip
        if x and y and not x & y:
            return f"different {name}"
    if _different_subjects(a, b):
        return "different subject"
    return None


def _related_measures(a: frozenset[str], b: frozenset[str]) -> bool:
    """Some measure of `a` is one of `b` or its kind; where a side names a specific kind (net
    profit), its general family (profit) no longer decides."""
    a, b = _specific(a), _specific(b)
    return any(x == y or _PARENT.get(x) == y or _PARENT.get(y) == x for x in a for y in b)


def _specific(measures: frozenset[str]) -> frozenset[str]:
    return measures - {_PARENT[m] for m in measures if m in _PARENT}


def same_quantity(a: Reported, b: Reported) -> bool:
    return difference(a, b) is None


def conflicts(a: Reported, b: Reported) -> bool:
    """The same quantity with different values: what "sources differ" means."""
    return same_quantity(a, b) and not _same_value(a.figure, b.figure)


def agrees(a: Reported, b: Reported) -> bool:
    return same_quantity(a, b) and _same_value(a.figure, b.figure)


def _same_value(a: Figure, b: Figure) -> bool:
    return a.same_value(b) or a.covers(b) or b.covers(a)


def _different_subjects(a: Reported, b: Reported) -> bool:
    """Each names someone the other does not, read across scripts: Alibaba's orders and
    Tencent's. A name only one of them gives (the source, a place) does not make two
    subjects; "the company" is read as whoever its headline names."""
    return bool(_unmatched(a, b) and _unmatched(b, a))


def _unmatched(a: Reported, b: Reported) -> set[str]:
    """The names of `a` that `b`'s sentence and headline do not write in any script. An
    acronym is left out across languages, where it changes (ECB is BCE in French, OPEC Opep)."""
    return {
        n for n in a.subjects
        if not (a.lang != b.lang and _ACRONYM.fullmatch(n) and not _CODE.fullmatch(n))
        and not any(_written_in(f, b.context) for f in _spellings(n))
    }  # fmt: skip


_ACRONYM = re.compile(r"[a-z]{2,5}\+?")


def _written_in(spelling: str, context: str) -> bool:
    """A spelling in a text: Chinese anywhere, a code (H200) as a whole word (H20 is another
    chip), any other Latin-script name at a word start and by its stem from five letters on,
    so China is read in Chinese and Germany in German."""
    if langmod.has_cjk(spelling):  # 中国籍 (Chinese) is read in 中国, 苹果公司 in 苹果
        bare = re.sub(r"(公司|集团)$", "", spelling)
        return bare[: max(2, len(bare) - 1)] in context
    if _CODE.fullmatch(spelling):
        return re.search(rf"(?<![a-z0-9]){re.escape(spelling)}(?![a-z0-9])", context) is not None
    stem = spelling[: max(4, len(spelling) - 2)] if len(spelling) >= 5 else spelling
    return re.search(rf"(?<![^\W\d_])(?<![0-9]){re.escape(stem)}", _latin(context)) is not None


def _latin(text: str) -> str:
    """Chinese characters spaced out, so a Latin name inside Chinese text starts a word."""
    return re.sub(r"([\u3400-\u9fff])", r" \1 ", text)


# ------------------------------------------------------------------ reading a sentence


def _near(sentence: str, figure: Figure) -> str:
    width = NEAR_CJK if langmod.has_cjk(sentence) else NEAR_LATIN
    return sentence[max(0, figure.start - width) : figure.end + width]


def _is_forecast(clause: str, figure: Figure, sentence: str) -> bool:
    """A figure is expected rather than reported when a forecast word leads to it ("expects
    revenue of $5bn", 预计营收) or directly follows it ("$5bn is expected"). One later in the
    sentence is about something else: "orders of 2 million chips, with delivery planned for
    2026", "170亿元，低于市场预期"."""
    at = clause.find(figure.text)
    before = clause[: max(at, 0)]
    after = re.split(r"[,，;；。]", sentence[figure.end :], maxsplit=1)[0]
    return bool(_FORECAST.search(before) or _FORECAST.search(after[:30]))


_CLAUSE_BREAK = re.compile(
    r";|；|，而|，但|, (?:while|whereas|but|compared with|versus|up from|down from|against)\b"
    r"|, (?:während|aber|gegenüber)\b|, (?:mientras|pero|frente a)\b|, (?:alors que|mais|contre)\b"
    r"|(?:while|whereas) ",
)


def _clause(sentence: str, figure: Figure) -> str:
    """The part of the sentence the figure is in: "revenue rose to $5bn, up from $4bn in 2024"
    dates $4bn to 2024 and leaves $5bn undated."""
    start, end = 0, len(sentence)
    for m in _CLAUSE_BREAK.finditer(sentence):
        if m.end() <= figure.start:
            start = m.end()
        elif m.start() >= figure.end:
            end = min(end, m.start())
    return sentence[start:end]


def _implied_year(
    date: str | None, quarters: frozenset[int], halves: frozenset[int], months: frozenset[int]
) -> frozenset[int]:
    """The year of "the fourth quarter" or "in March" said without one: the article's, or the
    year before when that period had not begun by the article's date (a February article's
    fourth quarter is last year's)."""
    if not date or not re.match(r"\d{4}-\d\d", date) or not (quarters or halves or months):
        return frozenset()
    year, month = int(date[:4]), int(date[5:7])
    starts = [3 * q - 2 for q in quarters] + [6 * h - 5 for h in halves] + list(months)
    return frozenset({year - 1 if min(starts) > month else year})


def _years(clause: str, figures: Sequence[Figure], date: str | None) -> frozenset[int]:
    years = {int(f.value) for f in figures if f.kind == "year" and f.text in clause}
    years |= {int(f.value) // 10000 for f in figures if f.kind == "date" and f.text in clause}
    if date and date[:4].isdigit():
        dated = _COMPARED.sub(" ", clause)  # "up 5% from last year" dates the base, not the 5%
        for offset, cue in _RELATIVE_YEAR.items():
            if cue.search(dated):
                years.add(int(date[:4]) + offset)
    return frozenset(y for y in years if y)


def _ordinals(pattern: re.Pattern[str], text: str) -> frozenset[int]:
    out = set()
    for m in pattern.finditer(text):
        word = next(g for g in m.groups() if g)
        out.add(int(word) if word.isdigit() else _ORDINALS.get(word.casefold(), 0))
    return frozenset(out - {0})


def _month_quarters(text: str) -> frozenset[int]:
    out = set()
    for m in _MONTH_QUARTER.finditer(text):
        month = MONTHS.get(m.group(1).casefold(), 0) if m.group(1) else int(m.group(2))
        if 1 <= month <= 12:
            out.add((month - 1) // 3 + 1)
    return frozenset(out)


def _months(clause: str, figures: Sequence[Figure]) -> frozenset[int]:
    """The months a clause dates its figures by, from dates the parser read (2025年10月) and
    month names standing alone; a quarter named by a month is a quarter, not that month."""
    out = {int(f.value) // 100 % 100 for f in figures if f.kind == "date" and f.text in clause}
    bare = _MONTH_QUARTER.sub(" ", clause)
    for m in _MONTH_WORD.finditer(bare):
        word = m.group(0)
        if word[0].isupper() or word not in ("may", "march", "august"):
            out.add(MONTHS[word.casefold()])
    return frozenset(out - {0})


def _halves(text: str) -> frozenset[int]:
    out = set()
    for m in _HALF.finditer(text):
        word = next(g for g in m.groups() if g).casefold()
        out.add(1 if word in ("1", "first", "erste", "ersten", "primer", "premier", "上") else 2)
    return frozenset(out)


def _names(text: str, lang: str) -> frozenset[str]:
    """The names a text gives, casefolded, sources cited ("according to Reuters") left out."""
    cited = {
        w.strip(".,").casefold() for m in _ATTRIBUTION.finditer(text) for w in m.group(1).split()
    }
    if langmod.has_cjk(text):
        found = _cjk_names(text)
    else:
        found = [w for i, w in enumerate(_LATIN_WORD.findall(text)) if _latin_name(w, i, lang)]
    words = {w.removesuffix("'s").removesuffix("’s").casefold() for n in found for w in n.split()}
    return frozenset(w for w in words if w not in cited and w not in _NOT_NAMES
                     and not _is_figure_word(w))  # fmt: skip


_LATIN_WORD = re.compile(r"(?:[ldLD]['’])?([^\W_][\w'’+.-]*[\w+]|[^\W_])")


def _latin_name(word: str, position: int, lang: str) -> bool:
    """A capitalised word or a code inside a sentence; its first word only when it reads as
    a name anywhere (Alibaba, H200). German capitalises every noun: there a word the German
    dictionary translates (Konzern, Stellen) is a noun, not a name."""
    if _is_figure_word(word) or not (word[0].isupper() or _CODE.fullmatch(word)):
        return False
    if position == 0 and not _is_name(word):
        return False
    if lang == "de" and not (_CODE.fullmatch(word) or word.isupper() or _is_name(word)):
        return not any(_german_noun(part) for part in word.split("-"))
    return True


def _german_noun(word: str) -> bool:
    """The German dictionary translates the word or, for a compound (Neuaufträge), its last
    part of five letters or more."""
    from rag.retrieval import freedict

    tails = (word, *(word[i:].capitalize() for i in range(3, len(word) - 4)))
    return any(freedict.glosses(t, "de", "en", 1) for t in tails)


def _cjk_names(text: str) -> list[str]:
    """Chinese proper names CC-CEDICT knows, and the Latin-script names written inside."""
    from rag.retrieval import dictionary

    latin = re.findall(r"[A-Za-z][A-Za-z0-9+-]*", text)
    return [w for w in latin if any(c.isupper() for c in w) or _CODE.fullmatch(w)] + [
        w for w in dictionary.segment_zh(text)
        if len(w) >= 2 and langmod.has_cjk(w) and dictionary.is_proper_name_zh(w)
    ]  # fmt: skip


_CODE = re.compile(r"(?=[\w-]*\d)(?=[\w-]*[^\W\d_])[\w-]+")
_IMPLIED_SUBJECT = re.compile(
    r"(?:the|der|die|das|el|la|los|las|le|l['’]|les)\s+[^\W\d_]+|该|这家|此", re.IGNORECASE
)


def _implied(sentence: str, title: str, lang: str) -> frozenset[str]:
    """A sentence that opens with "the company", 该公司 or "der Konzern" is about whoever its
    headline names."""
    if not title or not _IMPLIED_SUBJECT.match(sentence):
        return frozenset()
    return _names(title, lang)


def _codes(text: str) -> frozenset[str]:
    """Product codes (H20, 910C) in a headline: the subject a sentence's "the chip" means."""
    return frozenset(w.casefold() for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9-]*", text)
                     if _CODE.fullmatch(w) and not _is_figure_word(w))  # fmt: skip


def _is_name(word: str) -> bool:
    """A sentence's first word is a name when it reads like one anywhere else: a code, an
    acronym, a possessive, or a name with a Chinese form (Alibaba → 阿里巴巴)."""
    from rag.retrieval import dictionary

    bare = word.removesuffix("'s").removesuffix("’s")
    return (
        bool(re.search(r"\d", bare) and re.search(r"[A-Za-z]", bare))
        or (bare.isupper() and len(bare) >= 2)
        or bare != word
        or bool(dictionary.en_to_zh(bare))
    )


def _is_figure_word(word: str) -> bool:
    """Numbers, amounts with their unit (141GB), unit or period words and plural acronyms
    (GPUs: a kind of thing) are no one's name."""
    return (
        bool(re.match(r"[\d$€£¥]", word) or re.fullmatch(r"[A-Z]{2,}s", word))
        or word.casefold() in _UNIT_WORDS
    )


_UNIT_WORDS = frozenset(
    {u.casefold() for u in UNITS}
    | {"q1", "q2", "q3", "q4", "h1", "h2"}
    | {c.strip("$.").casefold() for c in (*CURRENCY_PREFIX, *CURRENCY_SUFFIX)}
)


# Capitalised words that are not anyone: months, days, and words every sentence may begin with.
_NOT_NAMES = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "the",
        "a",
        "an",
        "in",
        "on",
        "at",
        "its",
        "it",
        "this",
        "that",
        "der",
        "die",
        "das",
        "el",
        "la",
        "los",
        "las",
        "le",
        "les",
        "un",
        "une",
        "ein",
        "eine",
    ]
)


@lru_cache(maxsize=20_000)
def _spellings(name: str) -> frozenset[str]:
    """A name's forms in every script (腾讯 and tencent), casefolded."""
    from rag.retrieval import dictionary

    return frozenset({name.casefold(), *(v.casefold() for v in dictionary.name_variants(name))})
