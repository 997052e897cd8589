"""FreeDict glosses: the dictd parser and cache on a tiny made-up dictionary, then the real
Debian dictionaries (skipped where the dict-freedict-* packages are not installed)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.retrieval import freedict
from rag.retrieval.freedict import dictionary_path, glosses

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

# Entries as FreeDict 2022 writes them: header, gloss line with [domain.] and <pos> tags,
# then examples, notes, synonyms and see-also lines that are not glosses.
_DEU_ENG = [
    ("00databaseinfo", "German-English FreeDict Dictionary\n\nEdition: test\n"),
    (
        "speicher",
        "Speicher /ʃpˈaɪçɜ/ <masc, n, sg>\n"
        "attic <n>, loft <n> [Br.] , garret <n> [poet.]\n"
        "   Synonyms: {Dachboden}, {Boden}\n\n"
        " see: {Dachböden}, {Böden}\n\n",
    ),
    (
        "speicher",
        "Speicher /ʃpˈaɪçɜ/ <masc, n, sg>\n"
        " [comp.] memory <n>, storage <n>, store <n> [Br.]\n"
        " see: {aktiver Speicher}, {virtueller Speicher}\n\n",
    ),
    (
        "etw. bestellen",
        "etw. bestellen /bəʃtˈɛlən/ <v>\n"
        " [cook.] order a meal <v>, order sth. <v>\n"
        '      "noch ein Glas Soda Zitron bestellen"  - order another glass of soda and lime\n'
        "         Note: bei jdm.\n\n",
    ),
    ("gebühr", "Gebühr /ɡəbˈyːɾ/ <fem, n, sg>\nfee (for a service) <n>; charge <n>\n\n"),
    ("firma", "Firma /fˈɪɾma/ <fem, n, sg>\ncompany <n>, firm <n>\n\n"),
]
_ENG_DEU = [
    (
        "memory",
        "memory /mˈɛməɹi/\nSpeicher <masc> [comp.]\n   Synonyms: {storage}, {store}\n\n",
    ),
    ("fee", "fee /fiː/\nGebühr <fem>\n\n"),
    ("company", "company /kˈʌmpəni/\nFirma <fem>, Fa. <fem>, Gesellschaft <fem>\n\n"),
]


def _b64(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 64)
        digits = _B64[digit] + digits
        if number == 0:
            return digits


def _write_dictd(folder: Path, name: str, entries: list[tuple[str, str]]) -> None:
    """NAME.index and NAME.dict.dz in dictd's format (plain gzip reads the same way)."""
    data, lines = b"", []
    for headword, text in entries:
        raw = text.encode("utf-8")
        lines.append(f"{headword}\t{_b64(len(data))}\t{_b64(len(raw))}\n")
        data += raw
    (folder / f"{name}.index").write_text("".join(sorted(lines)), encoding="utf-8")
    with gzip.open(folder / f"{name}.dict.dz", "wb") as handle:
        handle.write(data)


@pytest.fixture
def tiny_dictd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A made-up deu-eng/eng-deu pair as the only dictionaries, with its own cache folder."""
    folder = tmp_path / "dictd"
    folder.mkdir()
    _write_dictd(folder, "freedict-deu-eng", _DEU_ENG)
    _write_dictd(folder, "freedict-eng-deu", _ENG_DEU)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("RAG_FREEDICT_DIR", str(folder))
    freedict._installed.cache_clear()
    yield folder
    freedict._installed.cache_clear()
    freedict._table.cache_clear()


def test_dictd_numbers_decode() -> None:
    assert freedict._b64("A") == 0
    assert freedict._b64("BA") == 64
    assert freedict._b64("mR/r") == 38 * 64**3 + 17 * 64**2 + 63 * 64 + 43
    assert all(freedict._b64(_b64(n)) == n for n in (0, 1, 63, 64, 4095, 95_171_883))


def test_tiny_dictionary_glosses_are_ranked_and_clean(tiny_dictd: Path) -> None:
    # The [comp.] sense, given by both dictionaries, comes before the attic; "garret" is
    # poetic, so last; tags, notes, examples and see-also lines give nothing.
    assert glosses("Speicher", "de", "en", limit=10) == [
        "memory",
        "storage",
        "store",
        "attic",
        "loft",
        "garret",
    ]
    assert glosses("Speicher", "de", "en") == ["memory", "storage", "store", "attic"]
    assert glosses("speicher", "de", "en", limit=1) == ["memory"]
    # "etw. bestellen" is found as "bestellen"; "order a meal" is three words, so left out.
    assert glosses("bestellen", "de", "en") == ["order"]
    assert glosses("Gebühr", "de", "en") == ["fee", "charge"]
    assert glosses("Gebühren", "de", "en") == ["fee", "charge"]  # -en taken off
    assert glosses("memory", "en", "de") == ["speicher"]
    # storage has no eng-deu entry: the deu-eng entry read backwards gives it.
    assert glosses("storage", "en", "de") == ["speicher"]
    assert glosses("fees", "en", "de") == ["gebühr"]
    assert glosses("company", "en", "de") == ["firma", "gesellschaft"]  # not the "Fa." abbr.
    assert glosses("00databaseinfo", "de", "en") == []
    assert glosses("Schrank", "de", "en") == []
    assert glosses("Speicher", "de", "en", limit=0) == []


def test_tiny_dictionary_is_cached_and_loaded_from_the_pickle(
    tiny_dictd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert glosses("Speicher", "de", "en")
    cached = sorted(p.name for p in (tmp_path / "cache" / "rag-news").glob("freedict-*.pickle"))
    assert [name.split("-v")[0] for name in cached] == ["freedict-deu-eng", "freedict-eng-deu"]

    def no_rebuild(*_args: object) -> None:
        raise AssertionError("the table should come from the pickle")

    freedict._table.cache_clear()
    monkeypatch.setattr(freedict, "_build", no_rebuild)
    assert glosses("Speicher", "de", "en") == ["memory", "storage", "store", "attic"]
    assert glosses("fee", "en", "de") == ["gebühr"]


def test_missing_dictionaries_never_raise(tiny_dictd: Path) -> None:
    assert dictionary_path("de", "en") == tiny_dictd / "freedict-deu-eng.index"
    assert dictionary_path("es", "en") is None  # not in the tiny folder
    assert dictionary_path("de", "fr") is None  # no such pair at all
    assert dictionary_path("de", "en", tiny_dictd / "nowhere") is None
    assert glosses("memoria", "es", "en") == []
    assert glosses("Haus", "de", "fr") == []
    assert glosses("", "de", "en") == []


def test_spanish_and_english_inflections_reach_the_lemma() -> None:
    assert "invertir" in freedict._candidates("invertirá", "es")
    assert "comprar" in freedict._candidates("comprarían", "es")
    assert "acción" in freedict._candidates("acciones", "es")
    assert "nuevo" in freedict._candidates("nuevas", "es")
    assert "company" in freedict._candidates("companies", "en")
    assert "Speicher" in freedict._candidates("speichern", "de")


# --- the real Debian dictionaries -------------------------------------------------------------

_real_de = pytest.mark.skipif(
    freedict.dictionary_path("de", "en", Path("/usr/share/dictd")) is None
    or freedict.dictionary_path("en", "de", Path("/usr/share/dictd")) is None,
    reason="FreeDict German not installed (apt-get install dict-freedict-deu-eng "
    "dict-freedict-eng-deu); the first build of its table takes about 30 s, then it is cached",
)
_real_es = pytest.mark.skipif(
    freedict.dictionary_path("es", "en", Path("/usr/share/dictd")) is None,
    reason="FreeDict Spanish not installed (apt-get install dict-freedict-spa-eng "
    "dict-freedict-eng-spa)",
)


@_real_de
def test_real_german_glosses() -> None:
    assert {"memory", "storage"} & set(glosses("Speicher", "de", "en"))
    assert {"order", "ordered"} & set(
        glosses("bestellt", "de", "en") + glosses("bestellen", "de", "en")
    )
    assert "speicher" in glosses("memory", "en", "de")
    assert glosses("Alibaba", "de", "en") == []
    assert glosses("Qwxzyvort", "de", "en") == []
    for word in glosses("Speicher", "de", "en", limit=20):
        assert word == word.lower() and word not in {"the", "a", "to", "of"}


@_real_de
def test_real_german_held_back() -> None:
    """Leave-one-language-out holds a dictionary back where the answer model reads it."""
    from rag.retrieval import pivot

    assert pivot.pivot_stems("Wie viel Speicher?", "de", held_back={"de"}) is None
    assert "memori" in (pivot.pivot_stems("Wie viel Speicher?", "de") or set())


@_real_es
def test_real_spanish_glosses() -> None:
    assert "order" in glosses("pedido", "es", "en")
    assert "market" in glosses("mercados", "es", "en")  # plural -s taken off
    assert "buy" in glosses("comprará", "es", "en")  # future tense -> comprar
    assert "invest" in glosses("colocar", "es", "en")
    assert glosses("Qwxzyvort", "es", "en") == []


@_real_es
@pytest.mark.xfail(
    reason="coverage gap: FreeDict spa-eng/eng-spa 0.3.1 (Ergane, ~5k headwords) have no "
    "'invertir' in either direction (eng-spa glosses invest as colocar)",
)
def test_real_spanish_invertir() -> None:
    assert "invest" in glosses("invertir", "es", "en")
