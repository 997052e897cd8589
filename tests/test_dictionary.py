"""CC-CEDICT lexicon: names across scripts and question terms, on the real dictionary file."""

from __future__ import annotations

import pytest

from rag.retrieval import dictionary
from rag.retrieval.dictionary import (
    en_to_zh,
    is_proper_name_zh,
    name_variants,
    segment_zh,
    translate_question_terms,
    zh_to_en,
)

COMPANIES = {"英伟达": "nvidia", "阿里巴巴": "alibaba", "腾讯": "tencent", "字节跳动": "bytedance"}


@pytest.mark.parametrize(("zh", "en"), COMPANIES.items())
def test_company_names_both_ways(zh: str, en: str) -> None:
    assert en in zh_to_en(zh)
    assert zh in en_to_zh(en)
    assert zh in en_to_zh(en.upper())  # NVIDIA, as CEDICT itself writes it
    assert is_proper_name_zh(zh)
    assert {zh, en} <= name_variants(zh)
    assert {zh, en} <= name_variants(en.title())


def test_tencent_resolves_through_cedict_see_reference() -> None:
    """CEDICT's 腾讯 is only "see 腾讯控股有限公司"; the holding's gloss gives the name."""
    assert en_to_zh("Tencent")[0] == "腾讯"
    assert zh_to_en("腾讯") == ["tencent"]


def test_segment_keeps_latin_runs_and_finds_words() -> None:
    tokens = segment_zh("H200芯片有多少HBM3E内存")
    assert tokens == ["H200", "芯片", "有", "多少", "HBM3E", "内存"]
    assert segment_zh("英伟达 H200\t芯片") == ["英伟达", "H200", "芯片"]
    assert segment_zh("") == []


def test_segment_traditional_script() -> None:
    assert segment_zh("騰訊訂購晶片")[0] == "騰訊"
    assert "tencent" in zh_to_en("騰訊")


def test_translate_chinese_question() -> None:
    terms = translate_question_terms("腾讯订购了多少芯片", "zh")
    assert "tencent" in terms
    assert "chip" in terms
    # function and question words add nothing
    assert not {"how", "many", "much", "what"} & set(terms)
    assert len(terms) <= 12


def test_translate_latin_question_gives_chinese_names_only() -> None:
    terms = translate_question_terms("How many H200 chips did Alibaba and ByteDance order?", "en")
    assert "阿里巴巴" in terms
    assert "字节跳动" in terms
    assert "芯片" not in terms  # common words are not translated
    assert "英伟达" in translate_question_terms("Wie viele Chips liefert Nvidias Werk?", "de")


def test_content_word_glosses() -> None:
    assert "computer chip" in zh_to_en("芯片")
    assert "bandwidth" in zh_to_en("带宽")
    assert "market" in zh_to_en("市场")
    assert "ram" in zh_to_en("内存")
    assert not is_proper_name_zh("芯片")
    for glosses in (zh_to_en("市场"), zh_to_en("出口"), zh_to_en("人工智能")):
        assert glosses and all(len(g.split()) <= 3 and g == g.lower() for g in glosses)


def test_names_missing_from_cedict_come_from_the_extras_table() -> None:
    assert en_to_zh("Jensen Huang") == ["黄仁勋"]
    assert "jensen huang" in name_variants("黄仁勋")
    assert "超微半导体" in en_to_zh("AMD")


def test_en_to_zh_precision() -> None:
    assert en_to_zh("the") == []
    assert en_to_zh("chip") == []
    assert en_to_zh("Chip") == []
    assert en_to_zh("market") == []
    assert en_to_zh("") == []
    assert en_to_zh("Huang") == []  # a Chinese surname alone names nobody in particular
    assert en_to_zh("RAM") == []  # an acronym is not the biblical name Ram (亚兰)
    assert "中" not in en_to_zh("China")  # single characters would match any Chinese text
    assert en_to_zh("China")[0] == "中国"


def test_unknown_names() -> None:
    assert name_variants("Zyxwvut Corp") == {"zyxwvut corp"}
    assert name_variants("") == set()
    assert not is_proper_name_zh("芯片组件厂")


def test_loaded_once_per_process() -> None:
    first = dictionary._lexicon()
    assert dictionary._lexicon() is first
