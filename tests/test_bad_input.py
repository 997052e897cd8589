"""Bad input gets a clear reason and costs nothing else: a file in a legacy encoding is read
right, a broken or duplicate part is skipped with its reason and the rest of the batch goes in,
and a question no answer can come from gets one line saying what to ask instead."""

from __future__ import annotations

import codecs
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.config import InputLimits, Settings, SlackSettings
from rag.errors import InputError, RagError
from rag.ingest import corpus
from rag.ingest.decoding import decode
from rag.lang import unreadable_script
from rag.library import add_files
from rag.service import check_question

REPO = Path(__file__).resolve().parent.parent

ZH = (
    "深圳青鸟公司发布新型电动渡轮\n\n深圳的一家初创公司发布了名为“青鸟”的新型电动渡轮，可载客"
    "一百二十人，续航八十公里。公司表示，首批渡轮将于明年春季在珠江投入运营。"
)
ZH_TRADITIONAL = "台北的一家新創公司發布了名為「青鳥」的電動渡輪，可載客一百二十人，續航八十公里。"
JA = "東京の新興企業が電動フェリー「青い鳥」を発表した。定員は百二十人で、来春に運航を始める。"
DE = (
    "Schwimmende Solaranlage in Görlitz\n\nDie Stadtwerke Görlitz eröffnen im März eine "
    "schwimmende Solaranlage auf dem Berzdorfer See. Die Anlage soll jährlich rund 4.000 "
    "Haushalte mit Strom versorgen, teilte der Geschäftsführer mit."
)
DE_1252 = "„Wir begrüßen die Entscheidung“, sagte er – der Preis liegt bei 30.000 € pro Stück."
FERRY = {
    "id": "ferry-en",
    "title": "Hydrogen ferry",
    "lang": "en",
    "text": "A Norwegian shipyard delivered the first hydrogen-powered car ferry on Tuesday. "
    "The vessel carries 120 cars and 300 passengers.",
}
MUSEO = {
    "id": "museo-es",
    "title": "Sala Goya",
    "lang": "es",
    "text": "El Museo del Prado abrirá en octubre una nueva sala dedicada a Goya, con 40 obras "
    "restauradas.",
}
CUT_LINE = '{"id": "cut", "text": "This line was cut off in the mid'


def _rag(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.apps.cli", *map(str, args)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


def _new_user_folder(folder: Path) -> Path:
    """What a new user drops in: GBK Chinese, Latin-1 German, a JSONL export cut off."""
    folder.mkdir(parents=True)
    (folder / "gbk.txt").write_bytes(ZH.encode("gbk"))
    (folder / "german.txt").write_bytes(DE.encode("latin-1"))
    lines = [json.dumps(FERRY), json.dumps(MUSEO, ensure_ascii=False), CUT_LINE]
    (folder / "news.jsonl").write_text("\n".join(lines), encoding="utf-8")
    return folder


# ------------------------------------------------------------------ files, through the CLI


def test_the_new_user_folder_goes_in_and_every_good_article_is_found(tmp_path: Path) -> None:
    folder = _new_user_folder(tmp_path / "drop")
    index = tmp_path / "ix"
    result = _rag("ingest", folder, "--index", index, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "4 added" in result.stdout and "1 skipped" in result.stdout
    stderr = result.stderr.splitlines()
    assert f"rag: note: {folder / 'gbk.txt'}: decoded as GB18030" in stderr
    assert f"rag: note: {folder / 'german.txt'}: decoded as Windows-1252" in stderr
    assert [line for line in stderr if line.startswith("rag: skipped")] == [
        f"rag: skipped {folder / 'news.jsonl'}:3: not valid JSON (cut off?): "
        "Unterminated string starting at: column 23"
    ]
    queries = tmp_path / "queries.txt"
    queries.write_text(
        "青鸟电动渡轮可以载客多少人\nschwimmende Solaranlage Berzdorfer See\n"
        "hydrogen-powered car ferry\nsala dedicada a Goya\n",
        encoding="utf-8",
    )
    searched = _rag("search", "--index", index, "--batch", queries, "-k", "1")
    assert searched.returncode == 0, searched.stderr
    top = [json.loads(line)[0] for line in searched.stdout.splitlines()]
    assert [hit["doc_id"] for hit in top] == ["gbk", "german", "ferry-en", "museo-es"]
    assert "可载客一百二十人" in top[0]["text"] and top[0]["lang"] == "zh"
    assert "eröffnen im März" in top[1]["text"] and top[1]["lang"] == "de"
    copy = tmp_path / "later" / "gbk-copy.txt"  # the same article again, renamed
    copy.parent.mkdir()
    copy.write_bytes(ZH.encode("utf-8"))
    again = _rag("ingest", copy, "--index", index, "--quiet")
    assert again.returncode == 1
    assert again.stderr.splitlines() == [
        f"rag: error: nothing to ingest: {copy}: the same text as gbk, already in the index; "
        "not added again"
    ]


def test_ingest_reports_each_rejection_as_json_and_still_ingests_the_rest(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.md").write_text("# Chips\n\nThe Zephyr-9 chip has 96 GB.", encoding="utf-8")
    (folder / "copy.md").write_text("# Chips\n\nThe Zephyr-9 chip has 96 GB.", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    (folder / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    result = _rag("ingest", folder, "--index", tmp_path / "ix", "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["added"] == ["copy"]  # sorted: copy.md is read first and kept
    assert report["skipped"] == [
        f"{folder / 'sheet.xlsx'}: unsupported file type .xlsx",
        f"{folder / 'empty.txt'} is empty (0 bytes)",
        f"{folder / 'good.md'}: the same text as {folder / 'copy.md'}; kept once, as copy",
        f"{folder / 'notes.pdf'}: not a readable PDF (Stream has ended unexpectedly)",
        f"{folder / 'photo.txt'} is a binary file (a PNG image), not an article "
        "(expected text, HTML or JSON)",
    ]
    skipped = [line for line in result.stderr.splitlines() if line.startswith("rag: skipped ")]
    assert skipped == [f"rag: skipped {reason}" for reason in report["skipped"]]


def test_nothing_usable_is_one_error_line_and_no_index(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "noise.txt").write_bytes(random.Random(1).randbytes(4096))
    result = _rag("ingest", folder, "--index", tmp_path / "ix")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("rag: error:")]
    assert errors == [
        "rag: error: nothing to ingest: none of the 2 inputs above gave a usable article; "
        "the index is unchanged"
    ]
    assert sum(line.startswith("rag: skipped") for line in result.stderr.splitlines()) == 2
    assert not (tmp_path / "ix").exists()


# ------------------------------------------------------------------ files, each kind


def _load_one(path: Path, limits: InputLimits | None = None) -> corpus.Loaded:
    return corpus.load_batch([path], limits)


@pytest.mark.parametrize(
    ("text", "codec", "reported"),
    [
        (ZH, "gbk", "GB18030"),
        (ZH + "𠀀", "gb18030", "GB18030"),  # a character outside GBK
        ("美国将收取25%的分成。", "gbk", "GB18030"),  # short: as clean in Korean cp949
        (ZH_TRADITIONAL, "big5", "Big5"),
        (JA, "shift_jis", "Shift-JIS"),
        (DE, "latin-1", "Windows-1252"),
        (DE_1252, "cp1252", "Windows-1252"),
        (DE, "utf-8-sig", None),  # UTF-8 all the same: nothing to report
        (DE, "utf-16", "UTF-16"),  # with its BOM, little-endian here
        (JA, "utf-16-be", "UTF-16"),  # BOM written below
    ],
)
def test_legacy_encodings_and_boms_are_read_right(
    tmp_path: Path, text: str, codec: str, reported: str
) -> None:
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    path = tmp_path / "article.txt"
    path.write_bytes(data)
    loaded = _load_one(path)
    (article,) = loaded.articles
    assert article.text == text
    assert loaded.encodings == ({str(path): reported} if reported else {})
    assert loaded.skipped == []


@pytest.mark.parametrize(
    ("text", "codec", "reported"),
    [
        (DE, "utf-16-le", "UTF-16LE (no BOM)"),
        (DE, "utf-16-be", "UTF-16BE (no BOM)"),
        ("Nvidia H200, 2026年1月\n" + ZH, "utf-16-le", "UTF-16LE (no BOM)"),
        (JA + "\nH200: 141GB", "utf-16-be", "UTF-16BE (no BOM)"),
    ],
)
def test_utf16_without_its_bom_is_read_right(
    tmp_path: Path, text: str, codec: str, reported: str
) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(text.encode(codec))
    loaded = _load_one(path)
    assert [a.text for a in loaded.articles] == [text]
    assert loaded.encodings == {str(path): reported}


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("top", [0xFF, 0x7FFF, 0xFFFF])
def test_random_16_bit_data_is_not_taken_for_utf16(tmp_path: Path, order: str, top: int) -> None:
    """Binary arrays of 16-bit numbers have zero bytes on one side too, but are refused."""
    rng = random.Random(top)
    for n in (16, 64, 512, 4096):
        path = tmp_path / f"array{n}.txt"
        path.write_bytes(struct.pack(f"{order}{n}H", *(rng.randint(0, top) for _ in range(n))))
        loaded = _load_one(path)
        assert loaded.articles == [] and "is a binary file" in loaded.skipped[0]


def test_utf8_with_a_stray_latin1_byte_keeps_its_text(tmp_path: Path) -> None:
    path = tmp_path / "mostly.txt"
    path.write_bytes(ZH.encode("utf-8") + b" caf\xe9.")
    loaded = _load_one(path)
    assert loaded.articles[0].text == ZH + " caf\ufffd."
    assert loaded.encodings == {str(path): "UTF-8 (1 undecodable byte replaced)"}


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "{path} is empty (0 bytes)"),
        ("blank.md", b"  \n\n ", "{path}: the article has no text"),
        (
            "photo.txt",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "{path} is a binary file (a PNG image), not an article (expected text, HTML or JSON)",
        ),
        (
            "noise.txt",
            random.Random(7).randbytes(4096),
            "{path} is a binary file, not an article (expected text, HTML or JSON)",
        ),
        (
            "high.txt",  # random bytes with no NUL or control byte: still no encoding's text
            bytes(b | 0x80 for b in random.Random(8).randbytes(4096)),
            "{path} is not text in any encoding I can tell (tried UTF-8, UTF-16, GB18030, "
            "Big5, Shift-JIS, EUC-JP, EUC-KR, Windows-1252, Windows-1251); save it as UTF-8",
        ),
        ("big.txt", b"x" * 6_000, "{path} is 6.0 kB; files over 5.0 kB are not read "
         "(split it into smaller files)"),
        ("bad.json", b'{"text": "cut', "{path} is not valid JSON: Unterminated string "
         "starting at: line 1 column 10 (char 9)"),
    ],
)  # fmt: skip
def test_unusable_files_are_rejected_with_their_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    good = tmp_path / "good.txt"
    good.write_text("The Zephyr-9 chip has 96 GB of memory.", encoding="utf-8")
    batch = corpus.load_batch([path, good], InputLimits(max_file_bytes=5_000))
    assert batch.skipped == [reason.format(path=path)]
    assert [a.doc_id for a in batch.articles] == ["good"]  # the rest still goes in
    with pytest.raises(InputError) as err:  # and one file alone is one line
        corpus.load_file(path, InputLimits(max_file_bytes=5_000))
    assert str(err.value) == reason.format(path=path)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    with path.open("wb") as f:  # sparse: 50 MB on paper, nothing on disk
        f.truncate(50_000_000)
    with pytest.raises(InputError) as err:
        corpus.load_file(path, Settings().limits)
    assert str(err.value) == (
        f"{path} is 50.0 MB; files over 32.0 MB are not read (split it into smaller files)"
    )


def test_a_cut_off_jsonl_keeps_its_good_lines(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    lines = [json.dumps(FERRY), "{broken", "", json.dumps(MUSEO), json.dumps(MUSEO), CUT_LINE]
    path.write_text("\n".join(lines), encoding="utf-8")
    batch = corpus.load_batch([path])
    assert [a.doc_id for a in batch.articles] == ["ferry-en", "museo-es"]
    assert batch.skipped == [
        f"{path}:2: not valid JSON: Expecting property name enclosed in double quotes: column 2",
        f"{path}:6: not valid JSON (cut off?): Unterminated string starting at: column 23",
        f"{path}:5: the same text as {path}:4; kept once, as museo-es",
    ]


def test_a_cut_off_json_list_keeps_its_complete_items(tmp_path: Path) -> None:
    path = tmp_path / "news.json"
    whole = json.dumps([FERRY, MUSEO, {"id": "x", "text": "Gone."}], indent=1)
    path.write_text(whole[: whole.index("Gone")], encoding="utf-8")
    loaded = corpus.load_file(path)
    assert [a.doc_id for a in loaded.articles] == ["ferry-en", "museo-es"]
    assert loaded.skipped == [
        f"{path}: not valid JSON after item #1 (cut off?), line 16: Unterminated string "
        "starting at; the 2 complete item(s) before it are kept"
    ]


def test_html_script_and_style_never_become_article_text(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Ferry</title><style>body { color: red }</style>"
        '<script>var tracker = "spy";</script>'
        '<script type="application/ld+json">{"headline": "JSON-LD headline"}</script></head>'
        "<body><article><p>A hydrogen ferry was delivered.</p>"
        "<script>document.write('injected ad')</script><style>.ad{display:none}</style>"
        "<p>It carries 120 cars.</p><noscript>enable javascript</noscript></article>"
        "</body></html>"
    )
    path = tmp_path / "page.html"
    path.write_bytes(html.encode("cp1252"))
    (article,) = corpus.load_file(path).articles
    assert article.text == "A hydrogen ferry was delivered.\n\nIt carries 120 cars."
    for leaked in ("color", "tracker", "JSON-LD", "injected", "display", "javascript"):
        assert leaked not in article.text


def test_the_same_article_twice_goes_in_once(tmp_path: Path) -> None:
    text = "The Zephyr-9 chip has 96 GB of memory."
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    (tmp_path / "b.txt").write_text(text + "\n", encoding="utf-8")  # whitespace differs only
    (tmp_path / "c.txt").write_text("The Zephyr-8 chip has 64 GB.", encoding="utf-8")
    batch = corpus.load_batch([tmp_path])
    assert [a.doc_id for a in batch.articles] == ["a", "c"]
    assert batch.skipped == [f"{tmp_path / 'b.txt'}: the same text as {tmp_path / 'a.txt'}; "
                             "kept once, as a"]  # fmt: skip


def test_uploads_report_skipped_lines_duplicates_and_encodings(tmp_path: Path) -> None:
    folder = _new_user_folder(tmp_path / "uploads")
    dup = folder / "again.txt"
    dup.write_bytes(ZH.encode("utf-8"))
    paths = sorted(folder.iterdir())
    report = add_files(tmp_path / "ix", paths)
    assert sorted(report.added) == ["again", "ferry-en", "german", "museo-es"]
    assert report.encodings == {"gbk.txt": "GB18030", "german.txt": "Windows-1252"}
    assert report.rejected == [
        ("gbk.txt", "gbk.txt: the same text as again.txt; kept once, as again"),
        ("news.jsonl", "news.jsonl:3: not valid JSON (cut off?): Unterminated string "
         "starting at: column 23"),
    ]  # fmt: skip
    renamed = tmp_path / "renamed.txt"
    renamed.write_bytes(DE.encode("utf-8"))
    later = add_files(tmp_path / "ix", [renamed, folder / "news.jsonl"])
    assert later.unchanged == ["ferry-en", "museo-es"] and not later.changed
    assert later.rejected[0] == (
        "renamed.txt",
        "renamed.txt: the same text as german, already in the index; not added again",
    )


def test_more_uploads_than_the_limit_are_refused_whole(tmp_path: Path) -> None:
    paths = []
    for n in range(3):
        paths.append(tmp_path / f"{n}.md")
        paths[-1].write_text(f"Chip {n} has {n}0 GB.", encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "ix", limits=InputLimits(max_upload_files=2))
    with pytest.raises(InputError, match=r"^3 files at once; add at most 2 at a time"):
        add_files(settings, paths)
    assert not (tmp_path / "ix").exists()


# ------------------------------------------------------------------ the loaders never crash


_SUFFIXES = st.sampled_from(corpus.ARTICLE_SUFFIXES)
_TEXTS = st.text(max_size=300)
_BYTES = st.one_of(
    st.binary(max_size=600),
    st.tuples(_TEXTS, st.sampled_from(["gbk", "big5", "shift_jis", "cp1252", "utf-16"])).map(
        lambda tc: tc[0].encode(tc[1], errors="ignore")
    ),
    st.lists(st.one_of(_TEXTS, st.just('{"text": "x'), st.just("[{"))).map(
        lambda parts: "\n".join(
            json.dumps({"text": p}) if i % 2 else p for i, p in enumerate(parts)
        ).encode()
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_BYTES, suffix=_SUFFIXES)
def test_the_loaders_raise_nothing_but_input_errors(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            loaded = corpus.load_file(path, InputLimits(max_file_bytes=10_000))
        except InputError as err:
            assert "\n" not in str(err) and str(path) in str(err)
            return
        assert loaded.articles and all(a.text.strip() for a in loaded.articles)
        assert all("\n" not in reason for reason in loaded.skipped)


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_whatever_decodes_is_text_without_control_characters(data: bytes) -> None:
    decoded = decode(data)
    if decoded is not None:
        assert "\x00" not in decoded.text


# ------------------------------------------------------------------ questions

BAD_QUESTIONS = {
    "empty": ("", "the question is empty: ask something, e.g. rag ask 'Who may buy the H200?'"),
    "100 KB": ("Who buys chips? " * 6_400, "the question is 102400 characters long; keep it "
               "under 2000 (ask about one thing at a time)"),
    "emoji": ("😀🎉🔥🤔", "the question has no words, only symbols, emoji or punctuation: ask in "
              "words, e.g. rag ask 'Who may buy the H200?'"),
    "control": ("\x01\x02\x07\x1b", "the question holds only control characters: ask "
                "something, e.g. rag ask 'Who may buy the H200?'"),
    "punctuation": ("?!… --- ¿¡", "the question has no words, only symbols, emoji or "
                    "punctuation: ask in words, e.g. rag ask 'Who may buy the H200?'"),
    "Korean": ("엔비디아는 중국에 몇 개의 칩을 팔 수 있나요?", "the articles are in de, en, zh; "
               "I cannot read questions in Korean: ask in one of those languages (or es, fr, it, pt)"),
    "Thai": ("Nvidia ขายชิปให้จีนได้กี่ชิ้น", "the articles are in de, en, zh; I cannot read "
             "questions in Thai: ask in one of those languages (or es, fr, it, pt)"),
    "Arabic": ("كم عدد الرقائق التي يمكن لإنفيديا بيعها للصين؟", "the articles are in de, en, "
               "zh; I cannot read questions in Arabic: ask in one of those languages (or es, fr, it, pt)"),
}  # fmt: skip


def test_question_checks_need_no_index() -> None:
    for kind in ("empty", "100 KB", "emoji", "control", "punctuation"):
        question, message = BAD_QUESTIONS[kind]
        with pytest.raises(InputError) as err:
            check_question(question)
        assert str(err.value) == message, kind
    assert check_question(" What\u200b does\tNvidia sell? ") == "What does Nvidia sell?"
    assert check_question("2026") == "2026"  # a bare figure is a search, not noise
    with pytest.raises(InputError, match="keep it under 10"):
        check_question("a" * 11, InputLimits(max_question_chars=10))


@pytest.mark.parametrize(
    ("question", "langs", "unreadable"),
    [
        ("엔비디아는 중국에 칩을 팔 수 있나요?", ("de", "en", "zh"), "Korean"),
        ("엔비디아는 중국에 칩을 팔 수 있나요?", ("en", "ko"), None),  # Korean articles
        ("美国将收取多少分成？", ("en",), None),  # cross-lingual: a supported question language
        ("エヌビディアはいくつのチップを売りますか", ("en", "zh"), "Japanese"),
        ("米国政府は売上の何%を受け取るか", ("en", "zh"), None),  # mostly Han: read as Chinese
        ("What does 삼성 say about H200 chips?", ("en",), None),  # mostly Latin
        ("Сколько чипов купит Alibaba?", ("en", "de"), "Russian or another Cyrillic language"),
        ("", ("en",), None),
    ],
)
def test_which_scripts_a_question_may_be_in(
    question: str, langs: tuple[str, ...], unreadable: str | None
) -> None:
    assert unreadable_script(question, langs) == unreadable


@pytest.mark.parametrize("kind", sorted(BAD_QUESTIONS))
def test_a_bad_question_is_one_line_and_exit_1(seed_index: Path, kind: str) -> None:
    question, message = BAD_QUESTIONS[kind]
    result = _rag("ask", "--index", seed_index, question)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"rag: error: {message}"]


def test_a_bad_question_is_a_clear_message_on_the_page_and_in_slack(seed_index: Path) -> None:
    from rag.apps.backend import Ask, ChatBackend
    from rag.apps.slack import Place, SlackBot
    from rag.apps.web import chat_turn

    backend = ChatBackend(seed_index, settings=Settings(index_dir=seed_index))
    bot = SlackBot(backend, SlackSettings())
    for kind, (question, message) in BAD_QUESTIONS.items():
        with pytest.raises(InputError) as err:
            list(backend.ask_stream(question))
        assert str(err.value) == message, kind
        *_, (history, _, _, record) = chat_turn(backend, question, [], [], Ask())
        assert history[-1]["content"] == f"⚠️ {message}" and record is None, kind
        if not question:  # Slack answers an empty mention with how to ask
            _, text = bot.compose(question, Place("C1", None))
            assert text.startswith("Ask me about the news articles")
            continue
        with pytest.raises(RagError) as err:
            bot.compose(question, Place("C1", None))
        assert str(err.value) == message, kind
    # and a good question still gets its cited answer
    answer = [e for e in backend.ask_stream("Who may buy the H200?")][-1]
    assert not isinstance(answer, str) and answer.citations
