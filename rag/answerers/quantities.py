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

Each test reads the clause the figure is in (split at "while", "but", ";", "up from", ...):
the subject from the names leading to it, the measured thing, period, per unit or total and
forecast or actual from the clause, so a sentence that gives several figures gives each its own.
A value given alike by two sources agrees only if both say it rose (or fell). How much each test counts, and how far apart two
values of one quantity tend to be, is learned: a logistic regression over the tests
(`features`), fitted on labelled figure pairs written for this (`eval/conflicts/`, `rag
train-conflicts`), with its threshold chosen on those pairs for a stated precision, and
measured on a set it was not fitted on (`rag eval-conflicts`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag import lang as langmod
from rag.answerers import qtypes
from rag.checks.figures import CURRENCY_PREFIX, CURRENCY_SUFFIX, MONTHS, UNITS, Figure, extract
from rag.errors import RagError
from rag.ingest.text import stopwords

# ------------------------------------------------------------------ cue words
# Each pattern ignores case; Latin words match at a word start (stems), Chinese ones anywhere.


def _cues(latin: str, cjk: str = "") -> re.Pattern[str]:
    pattern = rf"(?<![^\W\d_])(?:{latin})"
    return re.compile(f"{pattern}|{cjk}" if cjk else pattern, re.IGNORECASE)


_PER_UNIT = _cues(
    r"per\b(?! (?:cent|day|week|month|year|annum|hour)\b)|each\b|apiece|a piece"
    r"|a (?:share|barrel|unit|chip|car|vehicle|head|container)\b|an? (?:ounce|tonne|ton)\b"
    r"|je (?:aktie|stück|einwohner|person|tonne|kopf|fahrzeug)\b"
    r"|pro\b(?! (?:tag|woche|monat|jahr)\b)|jeweils|stück"
    r"|por (?:unidad|acción|barril|persona|habitante|cabeza|contenedor|vehículo|tonelada)\b"
    r"|por cada|cada\b|chacun|chaque"
    r"|par (?:action|baril|personne|habitant|tête|conteneur|unité|véhicule|tonne)\b",
    r"每|单[颗台辆个件股]|人均|各(?![地种类国界方项])|/(?:吨|千克|公斤|桶|股|台|辆|人|件|颗|克)",
)
_RISE = _cues(
    r"ros[ea]|rise|rising|up\b|gain|increas|jump|climb|grew|grow|higher|surg|soar|stieg|steig"
    r"|zuleg|wuchs|plus\b|aument|crec|subi|sub[ie]|hausse|augment|progress|bondi",
    r"上涨|增长|上升|提高|增加|攀升|涨",
)
_FALL = _cues(
    r"fell|fall|down\b|drop|declin|slid|slump|lower|sank|sink|plung|shrank|shrink|fiel|sank"
    r"|sinkt|verlor|rückgang|minus\b|cay[óo]|caíd|baj[óo]|descend|disminu|baisse|recul|chut"
    r"|diminu|perd",
    r"下跌|下降|减少|回落|下滑|降(?![雨水落])|跌",
)
_TOTAL = _cues(
    r"total|in all\b|combined|altogether|insgesamt|gesamt|en total|au total|cumul"
    r"|aggregate|overall",
    r"总计|总共|总量|总额|合计|共计|累计",
)
_FORECAST = _cues(
    r"expect|forecast|project(?:ed|ion|ions)\b|predict|anticipat|estimat|target"
    r"|aim(?:s|ed|ing)?\b|plan(?:s|ned|ning)?\b|guidance|outlook"
    r"|could\b|would\b|will\b|(?-i:may)\b|might\b|likely|poised|set to|on track|seen\b"
    r"|erwart|prognos|rechne|soll\b|sollen|könnte|ziel|voraussicht|schätz|wird\b|werden\b"
    r"|vorgesehen|geplant|veranschlagt|wollen\b"
    r"|prev[eé]|espera|previsi|pronóstic|podría|objetivo|planea|proyecta|estima"
    r"|[^\W\d_]+(?:ará|erá|irá|arán|erán|irán)\b"
    r"|prévo|prévision|attend(?:u|ue|us|ues|ait|ent)?\b|pourrait|vise|objectif|devrait"
    r"|table(?:nt)? (?:\w+ )?sur|sera\b|seront\b"
    r"|aura\b|auront\b|devra\b|pourra\b|atteindra",
    r"预计|预期|预测|预估|计划|目标|有望|将(?![近军])|可能|拟|指引|料将|力争|争取",
)
_ATTRIBUTION = re.compile(
    r"(?i:according to|citing|told|reported by|said|laut|zufolge|según|segun|selon|d'après)"
    r"\s+((?:[A-Z][\w.&-]*\s?)+)",
)

# What is measured, as families of words in the product's languages. Two figures measure
# different things when each names a family and they share none: "revenue rose to $10bn" and
# "net profit was $2bn". A figure near no family word is not told apart this way.
_MEASURES: dict[str, re.Pattern[str]] = {
    "revenue": _cues(r"revenue|sales\b|turnover|umsatz|erlös|einnahmen|ingreso|ventas|factura"
                     r"|chiffre d",
                     r"营收|营业收入|收入|销售额|营业额"),
    "profit": _cues(r"profit|earning|net income|net loss|loss\b|gewinn|überschuss|verlust"
                    r"|beneficio|ganancia|utilidad|pérdida|bénéfice|résultat net|perte",
                    r"利润|盈利|净利|亏损|盈余"),
    "operating_profit": _cues(r"operating (?:income|profit|result|loss)|ebit|betriebsergebnis"
                              r"|operativ|beneficio (?:operativo|de explotación)|resultado operativo"
                              r"|résultat (?:d'exploitation|opérationnel)", r"营业利润|经营利润|营业收益"),
    "net_profit": _cues(r"net (?:income|profit|loss)|nettogewinn|überschuss|beneficio neto"
                        r"|bénéfice net|résultat net|perte nette", r"净利"),
    "orders": _cues(r"order|book|bestell|auftr|buchung|pedido|encarg|reserva|commande|réservation",
                    r"订单|订购|下单|订货|预订"),
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
    "peak": _cues(r"peak|intraday|as much as|at one point|all-time high|record high|high of"
                  r"|spitze|höchststand|zeitweise"
                  r"|máximo|maximo|pico|sommet|plus haut|en séance",
                  r"盘中|一度|峰值"),
    "close": _cues(r"clos(?:ed|ing) (?:at|up|down|higher|lower)|closing (?:price|level)"
                   r"|settled (?:at|up|down)|ended the (?:day|session)|schlusskurs|schloss\b"
                   r"|cerró (?:a|en|con)|cierre de (?:la )?sesión|clôtur",
                   r"收盘|收涨|收跌|报收|收于"),
    "investment": _cues(r"invest(?:s|ed|ing|ment|ments)?\b|spend|capex|capital expenditure|ausgab|inversi|gasto"
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
    "deaths": _cues(r"killed|dead\b|died|death|fatalit|tote[nr]?\b|todesopfer|ums leben|muert"
                    r"|fallec|morts?\b|décès|tués", r"死亡|遇难|丧生|罹难"),
    "missing": _cues(r"missing|vermisst|desaparecid|disparu", r"失踪"),
    "injured": _cues(r"injur|wounded|verletz|herid|blessé", r"受伤|伤者"),
    "capacity": _cues(r"capacity|can hold|installed|kapazität|fassungsvermögen|capacidad"
                      r"|capacité|puissance installée", r"容量|装机|产能|库容"),
    "opening": _cues(r"opening (?:weekend|week|day)|first (?:weekend|week|day)|debut"
                     r"|startwochenende|ersten (?:wochenende|woche)|fin de semana de estreno"
                     r"|primer (?:fin de semana|día)|premier (?:week-end|jour)",
                     r"首周|首日|首映|首个周末"),
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
    rf"|(?<!前)第?([一二三四1-4])季度",
    re.IGNORECASE,
)
# A quarter named by its last month: "the June quarter", "April-June quarter", 9月季度.
_MONTH_QUARTER = re.compile(
    rf"\b(?:(?:{'|'.join(MONTHS)})[-–\s]+)?({'|'.join(MONTHS)})\s+quarter|(\d{{1,2}})月(?:份)?季度",
    re.IGNORECASE,
)
# Month names standing alone (im Oktober, in November): English ones only capitalised, since
# "may" and "march" are also verbs.
_MONTH_WORD = re.compile(
    rf"(?<![^\W\d_])(?:{'|'.join(m for m in MONTHS if len(m) > 3 or m == 'mai')})(?![^\W\d_])",
    re.IGNORECASE,
)
# Month names that are also other words: English "may", "march", "august" (verbs, adjective)
# count only capitalised; French "mars" only lower-case (Mars the company is capitalised);
# French "sept" is seven.
_ENGLISH_AMBIGUOUS_MONTHS = frozenset({"may", "march", "august"})
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

_FULL_YEAR = _cues(
    r"full[- ]year|whole year|entire year|annual\b|gesamte[nm]? jahr|ganze[nm]? jahr"
    r"|gesamtjahr|jahresumsatz|jahresgewinn|año completo|todo el año|conjunto del año"
    r"|anual\b|l'ensemble de l'année|année complète|annuel(?:le)?\b",
    r"全年|年度",
)
_FISCAL = re.compile(r"fiscal|financial year|geschäftsjahr|ejercicio|exercice|财年|财季", re.I)
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
    subjects: frozenset[str]  # the names before it (and "the company"'s), casefolded
    acronyms: frozenset[str]  # those of them the sentence writes in capitals (ECB)
    context: str  # the sentence and its article's headline, casefolded: who "the company" is
    lang: str
    measures: frozenset[str]  # the measured things named near it (revenue, orders, ...)
    years: frozenset[int]
    quarters: frozenset[int]
    halves: frozenset[int]
    months: frozenset[int]  # 1-12
    days: frozenset[str]  # "10-06" for Oct. 6, or a weekday ("wd2" for Tuesday)
    full_year: bool  # "the whole year", "full-year", 全年
    direction: int  # +1 a rise, -1 a fall, 0 neither said
    per_unit: bool
    total: bool  # said to be a total ("in total", "ingresos totales", 合计)
    forecast: bool


def reported_figures(
    sentence: str, lang: str, title: str = "", date: str | None = None
) -> list[Reported]:
    """Every figure of `sentence` other than years and dates, each as a reported quantity."""
    figures = extract(sentence, lang)
    amounts = [f for f in figures if f.kind not in ("year", "date")]
    return [_reported(f, sentence, lang, figures, title, date) for f in amounts]


def reported(
    figure: Figure,
    sentence: str,
    lang: str,
    title: str = "",
    date: str | None = None,
    figures: Sequence[Figure] | None = None,
) -> Reported:
    """`figure` (found in `sentence`, whose `figures` the caller may have parsed already) as
    a reported quantity."""
    found = extract(sentence, lang) if figures is None else figures
    return _reported(figure, sentence, lang, found, title, date)


def _reported(
    figure: Figure,
    sentence: str,
    lang: str,
    figures: Sequence[Figure],
    title: str,
    date: str | None,
) -> Reported:
    part = _clause(sentence, figure)
    clause, cjk = part.text, langmod.has_cjk(sentence)
    quarters = _ordinals(_QUARTER, clause) | _month_quarters(clause)
    halves, months = _halves(clause), _months(clause, figures)
    years = _years(clause, figures, date)
    if not years and not _FISCAL.search(clause):  # a fiscal quarter's year is the company's
        years = _implied_year(date, quarters, halves, months)
    names = _names(part.lead_in(cjk), lang, title)
    return Reported(
        figure=figure,
        answer_type=qtypes.figure_type(figure),
        subjects=names | _codes(title) | _implied(sentence, title, lang),
        acronyms=frozenset(n for n in names if _is_acronym(n, sentence)),
        context=f"{sentence} {title}".casefold(),
        lang=lang,
        measures=_measures(part.measured(cjk), lang),
        years=years,
        quarters=quarters,
        halves=halves,
        months=months,
        days=_days(clause, figures),
        full_year=bool(_FULL_YEAR.search(clause)),
        direction=_direction(part.lead_in(cjk)),
        per_unit=bool(_PER_UNIT.search(clause)),
        total=bool(_TOTAL.search(clause)),
        forecast=part.forecast(),
    )


# ------------------------------------------------------------------ the decision


FEATURES = (
    "per unit vs total", "forecast vs actual", "different period", "two different subjects",
    "a total vs a part",
    "different measure", "a peak, opening or capacity vs a level", "value ratio (log10)",
    "shared words", "same language",
)  # fmt: skip


def features(a: Reported, b: Reported) -> list[float]:
    """What tells two figures of one unit apart, as numbers the quantity model weighs. The
    rules each read one thing; how much each counts, and how far apart two values of one
    quantity tend to be (2.1 vs 2.4 million, not 200,000 vs 2 million), is learned from the
    labelled pairs."""
    period = any(x and y and not x & y for x, y in _periods(a, b)) or _part_of_year(a, b)
    only_a, only_b = _unmatched(a, b), _unmatched(b, a)
    return [
        float(a.per_unit != b.per_unit),
        float(a.forecast != b.forecast),
        float(period),
        float(bool(only_a and only_b)),
        float(a.total != b.total),
        float(bool(a.measures and b.measures and not _related_measures(a.measures, b.measures))),
        float(any((q in a.measures) != (q in b.measures) for q in QUALIFIERS)),
        _log_ratio(a.figure, b.figure),
        _shared_words(a, b),
        float(a.lang == b.lang),
    ]


def _part_of_year(a: Reported, b: Reported) -> bool:
    """A whole year against one of its quarters, halves or months."""

    def part(x: Reported) -> bool:
        return bool(x.quarters or x.halves or x.months) and not x.full_year

    return (a.full_year and part(b)) or (b.full_year and part(a))


def _periods(a: Reported, b: Reported) -> list[tuple[frozenset[Any], frozenset[Any]]]:
    """Each kind of period both may name; a date and a weekday are not compared."""
    dates_a, dates_b = ({d for d in x.days if not d.startswith("wd")} for x in (a, b))
    return [(a.years, b.years), (a.quarters, b.quarters), (a.halves, b.halves),
            (a.months, b.months), (frozenset(dates_a), frozenset(dates_b)),
            (a.days - dates_a, b.days - dates_b)]  # fmt: skip


MAX_LOG_RATIO = 3.0


def _log_ratio(a: Figure, b: Figure) -> float:
    if a.value <= 0 or b.value <= 0:
        return MAX_LOG_RATIO
    return min(MAX_LOG_RATIO, abs(math.log10(a.value / b.value)))


def _shared_words(a: Reported, b: Reported) -> float:
    """Share of the two sentences' (and headlines') words in common, read in English through
    the dictionaries; 0.5 where a language has none (French)."""
    from rag.retrieval import pivot

    x, y = pivot.pivot_stems(a.context, a.lang), pivot.pivot_stems(b.context, b.lang)
    if not x or not y:
        return 0.5
    return len(x & y) / len(x | y)


@dataclass(frozen=True)
class QuantityModel:
    """Logistic regression over `features`: the probability that two figures of one unit
    are the same quantity, and the threshold chosen on its training pairs for a stated
    precision of the conflict decision."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    trained_on: tuple[str, ...] = ()
    precision_target: float = 0.9

    def probability(self, x: Sequence[float]) -> float:
        z = sum((v - m) / s * w for v, m, s, w in zip(x, self.mean, self.scale, self.weights,
                                                       strict=True)) + self.bias  # fmt: skip
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_json(self) -> dict[str, Any]:
        return {"features": list(FEATURES), **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuantityModel:
        if tuple(data.get("features", ())) != FEATURES:
            raise RagError(
                f"{MODEL_PATH.name} was fitted on other features; refit it: rag train-conflicts"
            )
        if not len(data["mean"]) == len(data["scale"]) == len(data["weights"]) == len(FEATURES):
            raise RagError(f"{MODEL_PATH.name} is damaged (vectors of the wrong length); refit "
                           "it: rag train-conflicts")  # fmt: skip
        return cls(tuple(data["mean"]), tuple(data["scale"]), tuple(data["weights"]),
                   float(data["bias"]), float(data["threshold"]), tuple(data["trained_on"]),
                   float(data["precision_target"]))  # fmt: skip


MODEL_PATH = Path(__file__).with_name("quantity_model.json")


@lru_cache(maxsize=1)
def shipped_model() -> QuantityModel:
    try:
        return QuantityModel.from_json(json.loads(MODEL_PATH.read_text("utf-8")))
    except (OSError, ValueError, KeyError) as err:
        raise RagError(f"cannot read {MODEL_PATH}: {err}; refit it: rag train-conflicts") from err


def same_quantity_probability(
    a: Reported, b: Reported, model: QuantityModel | None = None
) -> float:
    """0 for figures of different units or answer types; else the model's probability."""
    return _probability(a, b, model or shipped_model())[0]


def _probability(a: Reported, b: Reported, model: QuantityModel) -> tuple[float, list[float]]:
    """The probability and the features it was read from ([] when the units differ)."""
    if (a.figure.kind, a.figure.unit) != (b.figure.kind, b.figure.unit):
        return 0.0, []
    if a.answer_type != b.answer_type:
        return 0.0, []
    x = features(a, b)
    return model.probability(x), x


def difference(a: Reported, b: Reported, model: QuantityModel | None = None) -> str | None:
    """Why `a` and `b` are different quantities (the first rule that fires, for a reader or a
    log), or None when the model takes them for the same one."""
    model = model or shipped_model()
    p, x = _probability(a, b, model)
    if p >= model.threshold:
        return None
    if p == 0.0:
        return "different unit"
    fired = [name for name, v in zip(FEATURES[:7], x[:7], strict=True) if v]
    return fired[0] if fired else f"values too far apart (p={p:.2f})"


def _related_measures(a: frozenset[str], b: frozenset[str]) -> bool:
    """Some measure of `a` is one of `b` or its kind; where a side names a specific kind (net
    profit), its general family (profit) no longer decides."""
    a, b = _specific(a), _specific(b)
    return any(x == y or _PARENT.get(x) == y or _PARENT.get(y) == x for x in a for y in b)


def _specific(measures: frozenset[str]) -> frozenset[str]:
    return measures - {_PARENT[m] for m in measures if m in _PARENT}


def same_quantity(a: Reported, b: Reported, model: QuantityModel | None = None) -> bool:
    model = model or shipped_model()
    return same_quantity_probability(a, b, model) >= model.threshold


def conflicts(a: Reported, b: Reported, model: QuantityModel | None = None) -> bool:
    """The same quantity with different values: what "sources differ" means."""
    alike = same_value(a.figure, b.figure) and same_direction(a, b)
    return not alike and same_quantity(a, b, model)


def agrees(a: Reported, b: Reported, model: QuantityModel | None = None) -> bool:
    return same_value(a.figure, b.figure) and same_direction(a, b) and same_quantity(a, b, model)


def same_direction(a: Reported, b: Reported) -> bool:
    """Not a rise of 5% against a fall of 5%: the same number, told the other way."""
    return a.direction * b.direction >= 0


def same_value(a: Figure, b: Figure) -> bool:
    return a.same_value(b) or a.covers(b) or b.covers(a)


def _unmatched(a: Reported, b: Reported) -> set[str]:
    """The names of `a` that `b`'s sentence and headline do not write in any script. An
    acronym is left out across languages, where it changes (ECB is BCE in French, OPEC Opep)."""
    across = a.lang != b.lang
    return {
        n for n in a.subjects
        if not any(_written_in(f, b.context) for f in _spellings(n, a.lang, b.lang))
        and not (across and (n in a.acronyms or _translated(n, a.lang, b.lang)))
    }  # fmt: skip


def _translated(name: str, lang: str, other: str) -> bool:
    """A word the dictionary translates into the other side's language, so not finding it
    there says nothing (Labor Department is Departamento de Trabajo; Germany, found as
    Alemania, is matched before this is asked). A company's name (Commerzbank, Uber) is
    written alike in every language, so it must be found. Acronyms, which change too (ECB is
    BCE in French), are left out by the caller."""
    if _CODE.fullmatch(name) or " " in name:
        return False
    from rag.retrieval import freedict

    return bool(freedict.glosses(name, lang, other, 1))


def _direction(text: str) -> int:
    """Whether the words leading to a figure say it rose or fell (0 when neither or both)."""
    return int(bool(_RISE.search(text))) - int(bool(_FALL.search(text)))


def _is_acronym(name: str, sentence: str) -> bool:
    """Written in capitals in the sentence (ECB, OPEC+), not a code (H200)."""
    return (
        not _CODE.fullmatch(name)
        and re.search(rf"(?<![\w]){re.escape(name.upper())}(?![\w])", sentence) is not None
    )


def _written_in(spelling: str, context: str) -> bool:
    """A spelling in a text: Chinese anywhere, a code (H200) as a whole word (H20 is another
    chip), any other Latin-script name as a word, from five letters on by its stem with a
    short ending, so China is read in Chinese and Germany in German, but Intel not in
    "interest" nor Meta in "metal"."""
    if langmod.has_cjk(spelling):  # 中国籍 (Chinese) is read in 中国, 苹果公司 in 苹果
        bare = re.sub(r"(公司|集团)$", "", spelling)
        return bare[: max(2, min(4, len(bare) - 1))] in context
    if _CODE.fullmatch(spelling):
        return re.search(rf"(?<![a-z0-9]){re.escape(spelling)}s?(?![a-z0-9])", context) is not None
    if len(spelling) >= 5:
        pattern = rf"{re.escape(spelling[: max(4, len(spelling) - 2)])}[^\W\d_]{{0,3}}"
    else:
        pattern = re.escape(spelling)
    return re.search(rf"(?<![\w]){pattern}(?![^\W\d_])", _latin(context)) is not None


def _latin(text: str) -> str:
    """Chinese characters spaced out, so a Latin name inside Chinese text starts a word."""
    return re.sub(r"([\u3400-\u9fff])", r" \1 ", text)


# ------------------------------------------------------------------ reading a sentence


# Qualifiers a figure either has or lacks: a day's high is not where it ended, a film's opening
# week not its whole run, said or not.
QUALIFIERS = ("peak", "opening", "capacity")


def _measures(near: str, lang: str) -> frozenset[str]:
    """The measured things named near a figure; in German also inside compounds
    (Bruttobestellungen are orders)."""
    if lang == "de":
        near += " " + " ".join(w[i:] for w in re.findall(r"\w{8,}", near)
                               for i in range(3, len(w) - 4))  # fmt: skip
    return frozenset(m for m, cue in _MEASURES.items() if cue.search(near))


_CLAUSE_BREAK = re.compile(
    r";|；|，而|，但|, (?:while|whereas|but|compared with|versus|up from|down from|against)\b"
    r"|, (?:während|aber|gegenüber)\b|, (?:mientras|pero|frente a)\b|, (?:alors que|mais|contre)\b"
    r"|(?:while|whereas) ",
)


@dataclass(frozen=True)
class _Clause:
    """The part of a sentence a figure is in, and where the figure stands in it: "revenue rose
    to $5bn, up from $4bn in 2024" dates $4bn to 2024 and leaves $5bn undated, and "while net
    profit was $2bn" is not about revenue."""

    text: str
    at: int  # the figure's start within `text`
    end: int  # its end within `text`

    @property
    def before(self) -> str:
        return self.text[: self.at]

    def lead_in(self, cjk: bool) -> str:
        """Up to the figure and the words right after it: who reported or did it
        ("Heineken's beer volume fell 1.2%", "1.2 million iPhones"). Names further on are
        where or from whom ("weighed down by Europe", "said the ministry")."""
        end = self.end + (6 if cjk else 20)
        while not cjk and end < len(self.text) and self.text[end - 1 : end + 1].isalpha():
            end += 1  # to the end of the word
        return self.text[:end]

    def measured(self, cjk: bool) -> str:
        """Where what the figure measures is named: the clause up to a little past it ("Das
        bereinigte Ebitda des Konzerns erreichte ... 1,39 Milliarden Euro")."""
        return self.text[: self.end + (NEAR_CJK if cjk else NEAR_LATIN)]

    def forecast(self) -> bool:
        """Expected rather than reported: a forecast word leads to the figure ("expects revenue
        of $5bn", 预计营收) or directly follows it ("$5bn is expected"). One further on is
        about something else: "2 million chips, with delivery planned for 2026", "170亿元，
        低于市场预期"."""
        after = re.split(r"[,，;；。]", self.text[self.end :], maxsplit=1)[0]
        return bool(_FORECAST.search(self.before) or _FORECAST.search(after[:30]))


def _clause(sentence: str, figure: Figure) -> _Clause:
    start, end = 0, len(sentence)
    for m in _CLAUSE_BREAK.finditer(sentence):
        if m.end() <= figure.start:
            start = m.end()
        elif m.start() >= figure.end:
            end = min(end, m.start())
    return _Clause(sentence[start:end], figure.start - start, figure.end - start)


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
        folded = word.casefold()
        if folded == "sept" or (folded == "mars" and word != folded):
            continue
        if folded not in _ENGLISH_AMBIGUOUS_MONTHS or word[0].isupper():
            out.add(MONTHS[folded])
    return frozenset(out - {0})


_MONTH_ABBREVIATION = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY = re.compile(
    rf"\b(?P<m1>{_MONTH_ABBREVIATION})\.?\s+(?P<d1>[0-3]?\d)\b(?!\s*[,.]?\s*(?:19|20)\d\d)"
    rf"|\b(?P<d2>[0-3]?\d)(?:er|st|nd|rd|th)?\.?\s+(?:de\s+)?(?P<m2>{_MONTH_ABBREVIATION})\b"
    r"|(?P<m3>1[0-2]|0?[1-9])月(?P<d3>[0-3]?\d)日",
    re.IGNORECASE,
)
_WEEKDAYS = (
    ("monday", "montag", "lunes", "lundi", "周一", "星期一"),
    ("tuesday", "dienstag", "martes", "mardi", "周二", "星期二"),
    ("wednesday", "mittwoch", "miércoles", "mercredi", "周三", "星期三"),
    ("thursday", "donnerstag", "jueves", "jeudi", "周四", "星期四"),
    ("friday", "freitag", "viernes", "vendredi", "周五", "星期五"),
    ("saturday", "samstag", "sábado", "samedi", "周六", "星期六"),
    ("sunday", "sonntag", "domingo", "dimanche", "周日", "星期日"),
)


_WEEKDAY_PATTERNS = tuple(re.compile(rf"(?<![^\W\d_])(?:{'|'.join(names)})") for names in _WEEKDAYS)


def _days(clause: str, figures: Sequence[Figure]) -> frozenset[str]:
    """The day a clause dates its figure by: a date (Oct. 6, 7. Oktober, 10月6日) or a
    weekday (Monday, Dienstag). Two figures of different days are different closes."""
    days = {f"{int(f.value) // 100 % 100:02d}-{int(f.value) % 100:02d}" for f in figures
            if f.kind == "date" and int(f.value) % 100 and f.text in clause}  # fmt: skip
    for m in _DAY.finditer(clause):
        month = m.group("m1") or m.group("m2") or m.group("m3")
        day = int(m.group("d1") or m.group("d2") or m.group("d3"))
        number = int(month) if month.isdigit() else MONTHS.get(month.casefold(), 0)
        if number and 1 <= day <= 31:
            days.add(f"{number:02d}-{day:02d}")
    lowered = clause.casefold()
    days |= {f"wd{i}" for i, pattern in enumerate(_WEEKDAY_PATTERNS) if pattern.search(lowered)}
    return frozenset(days)


def _halves(text: str) -> frozenset[int]:
    out = set()
    for m in _HALF.finditer(text):
        word = next(g for g in m.groups() if g).casefold()
        out.add(1 if word in ("1", "first", "erste", "ersten", "primer", "premier", "上") else 2)
    return frozenset(out)


def _names(text: str, lang: str, title: str = "") -> frozenset[str]:
    """The names a text gives, casefolded, sources cited ("according to Reuters") left out."""
    cited = {
        w.strip(".,").casefold() for m in _ATTRIBUTION.finditer(text) for w in m.group(1).split()
    }
    found = _cjk_names(text) if langmod.has_cjk(text) else _latin_names(text, lang, title)
    names = {n.removesuffix("'s").removesuffix("’s").rstrip("'’").casefold() for n in found}
    return frozenset(n for n in names if n not in cited and not _is_figure_word(n)
                     and not set(re.split(r"[-–\s]", n)) <= _NOT_NAMES)  # fmt: skip


def _latin_names(text: str, lang: str, title: str = "") -> list[str]:
    """Capitalised words and codes; a run of two or three that CC-CEDICT names as one (Rio
    Tinto, Deutsche Bank, China Mobile) stays one name, so it is matched in any script."""
    from rag.retrieval import dictionary

    words = _LATIN_WORD.findall(text)
    found: list[str] = []
    taken: set[int] = set()
    for i in range(len(words)):
        for n in (3, 2):
            run = words[i : i + n]
            if (
                len(run) == n
                and not taken & set(range(i, i + n))
                and all(w[0].isupper() for w in run)
                and dictionary.en_to_zh(" ".join(run))
            ):
                found.append(" ".join(run))
                taken |= set(range(i, i + n))
                break  # fmt: skip
    headline = set(_LATIN_WORD.findall(title))
    return found + [w for i, w in enumerate(words)
                    if i not in taken and _latin_name(w, i, lang, w in headline)]  # fmt: skip


_LATIN_WORD = re.compile(r"(?:[ldLD]['’])?([^\W_][\w'’+.-]*[\w+]|[^\W_])")


def _latin_name(word: str, position: int, lang: str, in_headline: bool = False) -> bool:
    """A capitalised word or a code inside a sentence; its first word only when it reads as
    a name anywhere (Alibaba, H200). German capitalises every noun: there a word the German
    dictionary translates (Konzern, Stellen) is a noun, not a name."""
    if _is_figure_word(word) or not (word[0].isupper() or _CODE.fullmatch(word)):
        return False
    if _is_name(word):
        return True
    if word.casefold() in stopwords(lang):
        return False
    if lang == "de":
        return not any(_german_noun(part) for part in word.split("-"))
    if position == 0:  # capitalised anyway: a name if the headline also gives it, or if no
        return in_headline or _unknown_word(word, lang)  # dictionary knows the word
    return True


def _unknown_word(word: str, lang: str) -> bool:
    """Neither a stopword nor a word the language's dictionary translates (Kering, Brent
    yes; The, Shares, Los no). French, with no dictionary here, names nothing this way."""
    from rag.retrieval import freedict

    bare = word.strip("'’").casefold()
    if lang not in ("en", "de", "es") or bare in stopwords(lang):
        return False
    return not freedict.glosses(bare, lang, "de" if lang == "en" else "en", 1)


def _german_noun(word: str) -> bool:
    """The German dictionary translates the word or, for a compound (Neuaufträge), its last
    part of six letters or more."""
    from rag.retrieval import freedict

    tails = (word, *(word[i:].capitalize() for i in range(3, len(word) - 5)))
    return any(freedict.glosses(t, "de", "en", 1) for t in tails)


def _cjk_names(text: str) -> list[str]:
    """Chinese proper names CC-CEDICT knows, and the Latin-script names written inside."""
    from rag.retrieval import dictionary

    latin = re.findall(r"[A-Za-z0-9][A-Za-z0-9+-]*", text)
    return [w for w in latin if re.search("[A-Za-z]", w)
            and (any(c.isupper() for c in w) or _CODE.fullmatch(w))] + [
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

    bare = word.removesuffix("'s").removesuffix("’s").rstrip("'’")
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
    | {
        c.casefold()
        for c in (*CURRENCY_PREFIX.values(), *CURRENCY_SUFFIX)
        if len(c) > 2 or langmod.has_cjk(c)
    }
)


# Capitalised words that are not anyone: months, days, and words every sentence may begin with.
_NOT_NAMES = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag",
    "sonntag", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo",
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "okt", "dez", "teu",
    "the", "a", "an", "in", "on", "at", "its", "it", "this", "that", "der", "die", "das", "el",
    "la", "los", "las", "le", "les", "un", "une", "ein", "eine",
})  # fmt: skip


@lru_cache(maxsize=20_000)
def _spellings(name: str, lang: str, other: str) -> frozenset[str]:
    """A name's forms in every script (腾讯 and tencent) and, where a dictionary translates it,
    in the other side's language and in English (Germany is Alemania, España is Spain),
    casefolded. A code is also read in the plural (PS5s)."""
    from rag.retrieval import dictionary, freedict

    forms = {name.casefold(), *(v.casefold() for v in dictionary.name_variants(name))}
    place = re.sub(r"(?<=..)[市省县区港镇]$", "", name)  # 佛山市 is 佛山, Foshan
    if place != name:
        forms |= {place, *(v.casefold() for v in dictionary.name_variants(place))}
    if _CODE.fullmatch(name) and name.endswith("s") and name[-2].isdigit():
        forms.add(name[:-1].casefold())
    for target in {other, "en"} - {lang}:
        forms.update(g.casefold() for g in freedict.glosses(name, lang, target, 2))
    return frozenset(forms)
