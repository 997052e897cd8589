from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest import corpus, text
from tests.conftest import SEED_CORPUS


def _sentences(
    raw: str, lang: str, junk: list[tuple[int, int]] | None = None
) -> list[text.Sentence]:
    clean = text.CleanText.build(raw, junk or [])
    return text.split_sentences(clean, lang)


def test_chinese_splits_on_full_width_punctuation_without_spaces() -> None:
    raw = "H200芯片性能高于H20。特朗普表示,美方将收取25%的分成！他还称？对"
    got = [s.text for s in _sentences(raw, "zh")]
    assert got == ["H200芯片性能高于H20。", "特朗普表示,美方将收取25%的分成！", "他还称？", "对"]


def test_german_abbreviations_and_decimal_commas_do_not_split() -> None:
    raw = "Das Papier stieg um 4,8 % auf z.B. 152 HK$. Danach fiel es am 8. Dezember wieder."
    got = [s.text for s in _sentences(raw, "de")]
    assert got[0] == "Das Papier stieg um 4,8 % auf z.B. 152 HK$."
    assert len(got) == 2


def test_spanish_and_english_sentences() -> None:
    es = "¿Qué pasó? La acción subió un 6,35 %. Alibaba invirtió 380.000 millones."
    assert len(_sentences(es, "es")) == 3
    en = "Mr. Smith paid $3.2 billion. It rose 6.35% to HK$152.40 on the U.S. market."
    assert [s.text for s in _sentences(en, "en")][1].startswith("It rose 6.35%")


def test_headlines_without_full_stop_are_their_own_sentence() -> None:
    raw = "Alibaba im Aufwind\nDie Aktien haben zugelegt. Mehr folgt."
    assert next(s.text for s in _sentences(raw, "de")) == "Alibaba im Aufwind"


@pytest.mark.parametrize("path", sorted(SEED_CORPUS.glob("*.txt")), ids=lambda p: p.stem[:3])
def test_offsets_round_trip_on_every_seed_article(path: Path) -> None:
    (article,) = corpus.load_file(path).articles
    clean = text.CleanText.build(article.text, article.junk)
    sentences = text.split_sentences(clean, article.lang)
    assert len(sentences) > 10
    for s in sentences:
        assert text.quote(article.text, article.junk, s.start, s.end) == s.text
        assert s.text.strip() == s.text
    chunks = text.chunk_sentences(sentences, clean, text.ChunkingSettings(max_tokens=120))
    for chunk in chunks:
        assert text.quote(article.text, article.junk, chunk.start, chunk.end) == chunk.text
        assert chunk.sentences[0].start == chunk.start and chunk.sentences[-1].end == chunk.end
    covered = [s for c in chunks for s in c.sentences]
    assert [s.text for s in covered] == [s.text for s in sentences]


def test_inline_junk_is_excluded_from_quotes_but_offsets_stay_original() -> None:
    raw = "出售其H200人工智能芯片配资炒股官方网,但对每颗芯片收取一定费用。"
    junk = corpus.find_junk(raw)
    (sentence,) = _sentences(raw, "zh", junk)
    assert "配资" not in sentence.text
    assert sentence.start == 0 and sentence.end == len(raw)
    assert sentence.text == "出售其H200人工智能芯片,但对每颗芯片收取一定费用。"


def test_chunks_respect_the_token_budget() -> None:
    raw = " ".join(
        f"Sentence number {i} talks about the H200 export fee of 25%." for i in range(60)
    )
    clean = text.CleanText.build(raw, [])
    settings = text.ChunkingSettings(max_tokens=64)
    chunks = text.chunk_sentences(text.split_sentences(clean, "en"), clean, settings)
    assert len(chunks) > 5
    assert all(c.n_tokens <= 64 for c in chunks)
    assert all(text.count_tokens(c.text) <= 64 + len(c.sentences) for c in chunks)


def test_overlong_sentence_is_cut_at_the_budget_with_exact_offsets() -> None:
    raw = "word " * 400 + "end."
    clean = text.CleanText.build(raw, [])
    chunks = text.chunk_sentences(
        text.split_sentences(clean, "en"), clean, text.ChunkingSettings(max_tokens=100)
    )
    assert len(chunks) >= 4
    for c in chunks:
        assert raw[c.start : c.end] == c.text
        assert c.n_tokens <= 100


def test_sentence_overlap_repeats_the_last_sentence() -> None:
    raw = " ".join(f"This is sentence {i} of the story." for i in range(30))
    clean = text.CleanText.build(raw, [])
    settings = text.ChunkingSettings(max_tokens=40, overlap_sentences=1)
    chunks = text.chunk_sentences(text.split_sentences(clean, "en"), clean, settings)
    assert chunks[0].sentences[-1] == chunks[1].sentences[0]


def test_lexical_tokens_meet_across_locales_and_scripts() -> None:
    de = text.lexical_tokens("mehr als 200.000 Einheiten, plus 4,8 Prozent", ["de"])
    en = text.lexical_tokens("over 200,000 units, up 4.8%", ["en"])
    assert "200000" in de and "200000" in en
    assert "48" in de and "48" in en
    assert "pct" in de and "pct" in en
    zh = text.lexical_tokens("阿里巴巴订购H200芯片", ["zh"])
    assert "阿里" in zh and "芯片" in zh and "h200" in zh


def test_stemming_matches_inflections_per_language() -> None:
    assert text.lexical_tokens("orders", ["en"]) == text.lexical_tokens("order", ["en"])
    assert text.lexical_tokens("Einheiten", ["de"]) == text.lexical_tokens("Einheit", ["de"])
    assert text.lexical_tokens("exportaciones", ["es"]) == text.lexical_tokens(
        "exportación", ["es"]
    )
