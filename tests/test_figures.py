"""Figures as typed values across languages, and the check that an answer's figures are cited."""

from __future__ import annotations

import pytest

from rag.checks.citations import answer_sentences
from rag.checks.figures import extract, parse_arabic, parse_cjk_numeral, verify

# (text, language, [(value, unit, high)]): what a reader of that language means.
CASES = [
    ("over 200,000 Nvidia chips each", "en", [(200_000, None, None)]),
    ("mehr als 200.000 Einheiten des H200", "de", [(200_000, None, None)]),
    ("in der Spitze um 4,8 % – der stärkste", "de", [(4.8, "%", None)]),
    (
        "With 141GB of HBM3E memory and 4.8 TB/s bandwidth",
        "en",
        [(141, "GB", None), (4.8, "TB/s", None)],
    ),
    ("surged 6.35% to HK$152.40", "en", [(6.35, "%", None), (152.4, "HKD", None)]),
    (
        "a 380 billion yuan ($53 billion) investment",
        "en",
        [(3.8e11, "CNY", None), (5.3e10, "USD", None)],
    ),
    ("市值维持在4.51万亿美元", "zh", [(4.51e12, "USD", None)]),
    ("约150亿美元的收入", "zh", [(1.5e10, "USD", None)]),
    ("大约是H20的13倍以上", "zh", [(13, "x", None)]),
    ("最多恢复至50%-60%,难以重现过往90%以上", "zh", [(50, "%", 60), (90, "%", None)]),
    ("百分之二十五", "zh", [(25, "%", None)]),
    ("百分之四点八", "zh", [(4.8, "%", None)]),
    ("3800亿元", "zh", [(3.8e11, "CNY", None)]),
    ("两百万颗芯片", "zh", [(2e6, None, None)]),
    ("ordered 2 million H200 units", "en", [(2e6, None, None)]),
    ("380.000 millones de yuanes", "es", [(3.8e11, "CNY", None)]),
    ("53 mil millones de dólares", "es", [(5.3e10, "USD", None)]),
    ("50 to 60 per cent", "en", [(50, "%", 60)]),
    ("50 bis 60 Millionen Euro", "de", [(5e7, "EUR", 6e7)]),
    ("13 times faster", "en", [(13, "x", None)]),
    ("2,5 Billionen Dollar", "de", [(2.5e12, "USD", None)]),
    ("a 2.5 billion dollar deal", "en", [(2.5e9, "USD", None)]),
    ("US$1.5 bn", "en", [(1.5e9, "USD", None)]),
    ("Kursgewinne von jeweils mehr als 4 %", "de", [(4, "%", None)]),
    ("4,51 Billionen US-Dollar", "de", [(4.51e12, "USD", None)]),
    ("un recargo del 25 por ciento", "es", [(25, "%", None)]),
    ("25 Prozent Gebühr", "de", [(25, "%", None)]),
    # every figure of the seed articles, in its own language
    ("under a 25% surcharge", "en", [(25, "%", None)]),
    ("plans to spend 100 billion yuan on Nvidia chips", "en", [(1e11, "CNY", None)]),
    ("extending its year-to-date gains to 83.95%", "en", [(83.95, "%", None)]),
    ("a 26% revenue growth to $4.66 billion", "en", [(26, "%", None), (4.66e9, "USD", None)]),
    ("nearly 80% of proceeds", "en", [(80, "%", None)]),
    ("a dominant 33% market share", "en", [(33, "%", None)]),
    ("Stock Pops 6% In Hong Kong", "en", [(6, "%", None)]),
    ("mehr als 20 % verloren", "de", [(20, "%", None)]),
    ("单卡带宽比H20高45%以上", "zh", [(45, "%", None)]),
    ("盘后股价应声上涨2.34%", "zh", [(2.34, "%", None)]),
    ("较此前15%的分成显著提升", "zh", [(15, "%", None)]),
    # scale words, currencies and units in each language
    ("3,2 Milliarden US-Dollar", "de", [(3.2e9, "USD", None)]),
    ("1,5 Mio. Euro", "de", [(1.5e6, "EUR", None)]),
    ("380 Mrd. Yuan", "de", [(3.8e11, "CNY", None)]),
    ("un billón de dólares", "es", []),  # no digits: a word, not a figure we read
    ("2 billones de yuanes", "es", [(2e12, "CNY", None)]),
    ("4,8 por ciento", "es", [(4.8, "%", None)]),
    ("200.000 unidades", "es", [(200_000, None, None)]),
    ("HK$152.40 per share", "en", [(152.4, "HKD", None)]),
    ("US$3.2 billion", "en", [(3.2e9, "USD", None)]),
    ("€2.5 million", "en", [(2.5e6, "EUR", None)]),
    ("5,000 yuan", "en", [(5000, "CNY", None)]),
    ("150亿元人民币", "zh", [(1.5e10, "CNY", None)]),
    ("两千亿美元", "zh", [(2e11, "USD", None)]),
    ("十三倍", "zh", [(13, "x", None)]),
    ("13-fold increase", "en", [(13, "x", None)]),
    ("13x more compute", "en", [(13, "x", None)]),
    ("13-mal so schnell", "de", [(13, "x", None)]),
    ("3 TB of memory and 900 GB/s links", "en", [(3, "TB", None), (900, "GB/s", None)]),
    ("rose 1.5 percentage points", "en", [(1.5, "pp", None)]),
    ("50%至60%", "zh", [(50, "%", 60)]),
    ("del 50 al 60 por ciento", "es", [(50, "%", 60)]),
    ("between $2 billion and $3 billion", "en", [(2e9, "USD", None), (3e9, "USD", None)]),
]
DATES = [
    ("the December 2025 compromise", "en", 20251200),
    ("sábado, 10 de enero de 2026, 2:07 pm", "es", 20260110),
    ("H200是英伟达在2023年11月发布", "zh", 20231100),
    ("am 8. Dezember 2025 wieder", "de", 20251208),
    ("published 2026-01-10", "en", 20260110),
    ("on January 10, 2026", "en", 20260110),
    ("am 11. Januar 2026", "de", 20260111),
    ("2026年1月11日", "zh", 20260111),
]


@pytest.mark.parametrize(("text", "lang", "expected"), CASES)
def test_figures_become_typed_values(text: str, lang: str, expected: list[tuple]) -> None:
    got = [(f.value, f.unit, f.high) for f in extract(text, lang) if f.kind not in ("year", "date")]
    assert got == [(float(v), u, None if h is None else float(h)) for v, u, h in expected]


@pytest.mark.parametrize(("text", "lang", "value"), DATES)
def test_dates_are_figures_and_times_are_not(text: str, lang: str, value: int) -> None:
    assert [(f.value, f.unit) for f in extract(text, lang)] == [(float(value), "date")]


def test_product_codes_and_word_numerals_are_not_figures() -> None:
    assert extract("The H200, H20 and HBM3E chips", "en") == []
    assert extract("但对每颗芯片收取一定费用,万一", "zh") == []


def test_the_same_quantity_compares_equal_across_languages() -> None:
    (en,) = extract("380 billion yuan", "en")
    (zh,) = extract("3800亿元", "zh")
    (es,) = extract("380.000 millones de yuanes", "es")
    assert en.same_value(zh) and zh.same_value(es)
    (de,) = extract("4,8 %", "de")
    (en2,) = extract("4.8%", "en")
    assert de.same_value(en2)
    assert not en.same_value(extract("$380 billion", "en")[0])  # another currency


@pytest.mark.parametrize(
    ("text", "lang", "value"),
    [("200.000", "de", 200_000), ("200,000", "en", 200_000), ("4,51", "de", 4.51),
     ("4.51", "en", 4.51), ("1.234,5", "de", 1234.5), ("1,234.5", "en", 1234.5),
     ("1.000.000", "es", 1e6)],
)  # fmt: skip
def test_separators_follow_the_language(text: str, lang: str, value: float) -> None:
    assert parse_arabic(text, lang) == value


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("十三", 13), ("两百万", 2e6), ("一万五千", 15000), ("三千八百亿", 3.8e11), ("四万亿", 4e12)],
)
def test_chinese_numerals(numeral: str, value: float) -> None:
    assert parse_cjk_numeral(numeral) == value


def test_answer_sentences_keep_their_citations() -> None:
    text = "Nvidia sells in the U.S. market 4.8 TB/s chips [1]. Alibaba rose 6.35%. [2][3] 结束。[1, 2]"
    got = [(s.strip(), cited) for _, s, cited in answer_sentences(text)]
    assert got == [
        ("Nvidia sells in the U.S. market 4.8 TB/s chips [1].", [1]),
        ("Alibaba rose 6.35%. [2][3]", [2, 3]),
        ("结束。[1, 2]", [1, 2]),
    ]


SOURCES = {1: ("Alibaba's stock surged 6.35% to HK$152.40.", "en"), 2: ("投资3800亿元。", "zh")}


def test_verified_figures_are_supported_by_the_cited_passage() -> None:
    checks = verify(
        "The stock rose 6.35% to HK$152.40 [1]. It invests 380 billion yuan [2].", SOURCES
    )
    assert [(c.figure.text, c.supported, c.citation) for c in checks] == [
        ("6.35%", True, 1),
        ("HK$152.40", True, 1),
        ("380 billion yuan", True, 2),
    ]


@pytest.mark.parametrize(
    "wrong",
    [
        "The stock rose 6.53% [1].",  # a changed digit
        "The stock rose to US$152.40 [1].",  # a wrong currency
        "The stock rose 6.35 times [1].",  # a wrong unit
        "It invests 380 billion yuan [1].",  # the figure is in passage 2, which is not cited
        "The stock rose 6.35%.",  # no citation at all
        "The stock rose 6.35% [7].",  # a citation to a passage that was not given
    ],
)
def test_wrong_figures_are_caught(wrong: str) -> None:
    checks = verify(wrong, SOURCES)
    assert checks and not any(c.supported for c in checks)


def test_a_range_supports_either_end() -> None:
    sources = {1: ("中国市场份额最多恢复至50%-60%。", "zh")}
    assert verify("Nvidia could regain up to 60% [1].", sources)[0].supported
    assert not verify("Nvidia could regain up to 70% [1].", sources)[0].supported
