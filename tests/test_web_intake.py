"""Web pages, feeds, PDFs and Word files in, over a local HTTP server on loopback: pages that
look like real ones (menus, cookie banners, related links, comments, relative links, entities),
feeds in RSS, Atom and JSON Feed (CDATA, a legacy encoding, an item whose page is gone),
redirects, errors, a hanging server, an oversized page, a non-article content type, a
two-column PDF, an encrypted PDF and a Word file. Nothing leaves the machine."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rag.apps.cli import main
from rag.errors import InputError
from rag.ingest import web
from rag.ingest.corpus import load_file
from tests.test_browser import (  # noqa: F401 (driver is a fixture)
    CHROMEDRIVER,
    CHROMIUM,
    ask,
    driver,
    find,
    screenshot,
    shot_on_failure,
    wait,
)

pytest.importorskip("trafilatura")

ARTICLE = [
    "Nvidia will be allowed to sell its H200 accelerator to approved customers in China, the "
    "Commerce Department said on Tuesday.",
    "The chips carry a 25% fee that goes to the U.S. government, according to the rules "
    "published with the decision.",
    "Alibaba and ByteDance have each asked for more than 200,000 units, people familiar with "
    "the orders said.",
    "Analysts expect the first deliveries in the second quarter, once export licences are issued.",
]
BOILERPLATE = ["We use cookies to improve your experience", "Related stories",
               "Subscribe to our newsletter", "Great article, thanks!", "Markets Tech Opinion"]  # fmt: skip

PAGE = f"""<!doctype html>
<html lang="en"><head>
<title>Nvidia cleared to sell H200 in China | Daily Wire</title>
<meta property="og:title" content="Nvidia cleared to sell H200 chips in China">
<meta property="og:site_name" content="Daily Wire">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2026-01-12T08:30:00Z">
<link rel="canonical" href="/news/nvidia-h200-china.html">
</head><body>
<div class="cookie-banner">{BOILERPLATE[0]}. <a href="/privacy">Accept all</a></div>
<nav><ul><li><a href="/markets">Markets</a></li><li><a href="/tech">Tech</a></li>
<li><a href="/opinion">Opinion</a></li></ul></nav>
<header><h1>Nvidia cleared to sell H200 chips in China</h1></header>
<article>
<p>{ARTICLE[0]}</p>
<p>{ARTICLE[1].replace("&", "&amp;")}</p>
<p>{ARTICLE[2]}</p>
<p>{ARTICLE[3]} <a href="/news/licences.html">Read about the licences</a>.</p>
</article>
<aside><h2>{BOILERPLATE[1]}</h2><ul><li><a href="/a">Chip stocks rally on China news</a></li>
<li><a href="/b">What the H20 ban meant for Nvidia</a></li></ul></aside>
<div class="newsletter">{BOILERPLATE[2]}</div>
<section id="comments"><h3>Comments</h3><div class="comment"><p>{BOILERPLATE[3]}</p></div>
</section>
<footer>© 2026 Daily Wire · Markets Tech Opinion</footer>
</body></html>"""

SECOND_PAGE = """<!doctype html><html lang="de"><head><title>Alibaba im Aufwind</title>
<meta property="article:published_time" content="2026-01-11"></head><body>
<nav>Startseite Wirtschaft Technik</nav><article><h1>Alibaba im Aufwind</h1>
<p>Die Aktien der Alibaba Group haben deutlich zugelegt, beflügelt von Berichten über den
Zugang zu Nvidias H200-Chips.</p><p>In Hongkong kletterte das Papier in der Spitze um 4,8 %,
der stärkste Anstieg seit Ende November.</p><p>Analysten sehen weiteres Potenzial für den
Konzern, sollte Peking die Importe genehmigen.</p></article></body></html>"""

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Daily Wire: Tech</title><link>http://x/</link>
<description>Tech news</description>
<item><title>Nvidia cleared to sell H200 chips in China</title>
<link>/news/nvidia-h200-china.html</link><pubDate>Mon, 12 Jan 2026 08:30:00 GMT</pubDate></item>
<item><title>Tencent &amp; the H200: what we know</title><link>/news/gone.html</link>
<pubDate>not a date at all</pubDate>
<description><![CDATA[<p>Tencent has not said how many H200 chips it will order &mdash; analysts
put the figure at 100,000 units, below Alibaba's &quot;more than 200,000&quot;.</p>]]></description>
</item></channel></rss>"""

LATIN1_RSS = """<?xml version="1.0" encoding="iso-8859-1"?>
<rss version="2.0"><channel><title>Le Quotidien économique</title>
<item><title>Les puces H200 arrivent en Chine</title><link>/news/gone-fr.html</link>
<description>Nvidia pourra vendre ses puces H200 en Chine, a annoncé le ministère américain du
Commerce. Une redevance de 25 % reviendra au gouvernement des États-Unis.</description>
</item></channel></rss>""".encode("iso-8859-1")

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire Atom</title><id>urn:x</id>
<updated>2026-01-11T00:00:00Z</updated>
<entry><title>Alibaba im Aufwind</title><link href="/news/alibaba.html"/><id>urn:1</id>
<updated>2026-01-11T09:00:00Z</updated></entry></feed>"""

JSON_FEED = json.dumps({
    "version": "https://jsonfeed.org/version/1.1", "title": "Wire JSON",
    "items": [{"id": "1", "url": "/news/gone-json.html", "title": "H200 fee explained",
               "date_published": "2026-01-13T10:00:00Z",
               "content_html": "<p>The 25% fee applies to every H200 sold to China, the rules "
                               "say. It is collected by the U.S. government.</p>"}],
})  # fmt: skip


def _pdf(lines: list[tuple[int, int, str]], title: str) -> bytes:
    """A one-page PDF with Helvetica text at the given positions: enough to lay out two
    columns the way a press release does."""
    ops = "".join(f"BT /F1 10 Tf {x} {y} Td ({t}) Tj ET\n" for x, y, t in lines)
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
        "/Resources << /Font << /F1 4 0 R >> >> >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(ops)} >>\nstream\n{ops}endstream",
        f"<< /Title ({title}) /Author (Press Office) /CreationDate (D:20260114090000Z) >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write("".join(f"{o:010d} 00000 n \n" for o in offsets).encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n"
              f"startxref\n{xref}\n%%EOF\n".encode())  # fmt: skip
    return out.getvalue()


LEFT = ["Nvidia H200 exports: the facts.", "The H200 carries 141GB of", "HBM3E memory per chip.",
        "Shipments to China need", "an export licence."]  # fmt: skip
RIGHT = ["A 25% fee is charged on", "each chip sold to China.", "The fee goes to the",
         "U.S. government, the office", "of the press secretary said."]  # fmt: skip
TWO_COLUMNS = _pdf([(50, 700 - 14 * i, t) for i, t in enumerate(LEFT)]
                   + [(330, 700 - 14 * i, t) for i, t in enumerate(RIGHT)], "H200 fact sheet")  # fmt: skip


def _encrypted(pdf: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _docx() -> bytes:
    from docx import Document

    document = Document()
    document.core_properties.title = "Internal memo: H200 orders"
    document.core_properties.author = "Research desk"
    for sentence in ARTICLE[:3]:
        document.add_paragraph(sentence)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/news/nvidia-h200-china.html": (200, "text/html; charset=utf-8", PAGE.encode()),
    "/news/alibaba.html": (200, "text/html", SECOND_PAGE.encode()),
    "/feed.xml": (200, "application/rss+xml", RSS.encode()),
    "/latin1.xml": (200, "application/rss+xml", LATIN1_RSS),
    "/atom.xml": (200, "application/atom+xml", ATOM.encode()),
    "/feed.json": (200, "application/feed+json", JSON_FEED.encode()),
    "/image.png": (200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
    "/fact-sheet.pdf": (200, "application/pdf", TWO_COLUMNS),
    "/locked.pdf": (200, "application/pdf", b""),  # filled in by the fixture (needs pypdf)
    "/memo.docx": (200, web.DOCX_TYPES[0], b""),
    "/big.html": (200, "text/html", b"<html><body>" + b"<p>word </p>" * 40_000 + b"</body></html>"),
}  # fmt: skip
REDIRECTS = {"/old-link": "/news/nvidia-h200-china.html", "/loop": "/loop"}
REQUESTS: list[str] = []  # paths answered with a body (not 304), for the watch tests


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in REDIRECTS:
            self.send_response(302)
            self.send_header("Location", REDIRECTS[self.path])
            self.end_headers()
        elif self.path == "/hang":
            time.sleep(3)
            self.send_error(504)
        elif self.path == "/broken":
            self.send_error(500)
        elif self.path in ROUTES:
            status, kind, body = ROUTES[self.path]
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            REQUESTS.append(self.path)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[str]:
    pytest.importorskip("pypdf")
    pytest.importorskip("docx")
    monkeypatch_module.setenv("NO_PROXY", "127.0.0.1,localhost")
    ROUTES["/locked.pdf"] = (200, "application/pdf", _encrypted(TWO_COLUMNS))
    ROUTES["/memo.docx"] = (200, web.DOCX_TYPES[0], _docx())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def _fetcher(**limits: float) -> web.Fetcher:
    return web.Fetcher(web.FetchLimits(**limits), allow_private=True)  # type: ignore[arg-type]


def _articles(url: str, fetcher: web.Fetcher | None = None) -> list[web.Article]:
    fetcher = fetcher or _fetcher()
    return list(web.articles_from(fetcher.get(url), fetcher))


def test_a_page_gives_its_article_and_metadata_without_the_furniture(site: str) -> None:
    (article,) = _articles(f"{site}/old-link")  # a redirect to the page
    for sentence in ARTICLE:
        assert sentence in " ".join(article.text.split()), sentence
    for furniture in BOILERPLATE:
        assert furniture not in article.text, furniture
    assert article.title == "Nvidia cleared to sell H200 chips in China"
    assert (article.date, article.outlet, article.author) == (
        "2026-01-12",
        "Daily Wire",
        "Jane Doe",
    )
    assert article.url == f"{site}/news/nvidia-h200-china.html" and article.lang == "en"
    assert article.doc_id.startswith("127.0.0.1-nvidia-h200-china-")


def test_feeds_in_rss_atom_json_and_a_legacy_encoding(site: str) -> None:
    first, gone = _articles(f"{site}/feed.xml")
    assert "200,000 units" in first.text and first.outlet == "Daily Wire"
    # the page is gone (404): the item's own CDATA content stands in, entities decoded
    assert gone.title == "Tencent & the H200: what we know"
    assert "100,000 units" in gone.text and "—" in gone.text and '"more than 200,000"' in gone.text
    assert gone.date is None  # "not a date at all"
    (french,) = _articles(f"{site}/latin1.xml")
    assert french.title == "Les puces H200 arrivent en Chine" and "États-Unis" in french.text
    assert french.outlet == "Le Quotidien économique"
    (atom,) = _articles(f"{site}/atom.xml")
    assert atom.lang == "de" and "4,8 %" in atom.text
    (item,) = _articles(f"{site}/feed.json")
    assert item.title == "H200 fee explained" and item.date == "2026-01-13"


@pytest.mark.parametrize(
    ("path", "limits", "message"),
    [
        ("/missing", {}, "HTTP 404"),
        ("/broken", {}, "HTTP 500"),
        ("/loop", {}, "more than 5 redirects"),
        ("/hang", {"timeout_s": 1.0}, "no answer within 1 s"),
        ("/big.html", {"max_bytes": 100_000}, "larger than 0 MB"),
        ("/image.png", {}, "image/png is not an article"),
        ("/locked.pdf", {}, "the PDF is encrypted"),
    ],
)
def test_each_failure_is_one_line_naming_the_url(
    site: str, path: str, limits: dict[str, float], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        _articles(f"{site}{path}", _fetcher(**limits))
    assert str(caught.value).startswith(f"{site}{path}:") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_private_addresses_and_other_schemes_are_refused_unless_allowed(site: str) -> None:
    with pytest.raises(InputError, match="pass --allow-private"):
        web.Fetcher().get(f"{site}/news/alibaba.html")
    with pytest.raises(InputError, match="only http and https"):
        web.Fetcher().get("file:///etc/passwd")
    public = web.Fetcher(resolve=lambda host: ["10.0.0.7"])  # a name that points inside
    with pytest.raises(InputError, match="private, loopback or link-local"):
        public.check("https://news.example.com/story")
    web.Fetcher(resolve=lambda host: ["93.184.216.34"]).check("https://news.example.com/story")


def test_a_two_column_pdf_reads_column_by_column(site: str, tmp_path: Path) -> None:
    (article,) = _articles(f"{site}/fact-sheet.pdf")
    text = " ".join(article.text.split())
    assert "The H200 carries 141GB of HBM3E memory per chip." in text
    assert "A 25% fee is charged on each chip sold to China." in text
    assert text.index("an export licence") < text.index("A 25% fee")  # left column first
    assert (article.title, article.author, article.date) == ("H200 fact sheet", "Press Office",
                                                             "2026-01-14")  # fmt: skip
    (tmp_path / "sheet.pdf").write_bytes(TWO_COLUMNS)
    assert load_file(tmp_path / "sheet.pdf").articles[0].text == article.text


def test_a_word_file_and_its_metadata(site: str, tmp_path: Path) -> None:
    (memo,) = _articles(f"{site}/memo.docx")
    assert memo.title == "Internal memo: H200 orders" and memo.author == "Research desk"
    assert ARTICLE[2] in memo.text
    (tmp_path / "memo.docx").write_bytes(_docx())
    assert load_file(tmp_path / "memo.docx").articles[0].text == memo.text
    (tmp_path / "scan.pdf").write_bytes(_pdf([], "scan"))
    with pytest.raises(InputError, match="no text layer"):
        load_file(tmp_path / "scan.pdf")


def test_rag_ingest_takes_urls(
    site: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real embedder and index: a page and a feed in one command; the same page again is
    unchanged; without --allow-private, loopback is refused with one line and exit 1."""
    index = str(tmp_path / "index")
    page, feed = f"{site}/news/nvidia-h200-china.html", f"{site}/atom.xml"
    assert main(["ingest", page, feed, "--allow-private", "--index", index, "--quiet"]) == 0, (
        capsys.readouterr().err
    )
    assert "2 added" in capsys.readouterr().out
    again = main(["ingest", page, "--allow-private", "--index", index, "--quiet"])
    out = capsys.readouterr()
    assert again == 0 and "1 unchanged" in out.out, out
    assert main(["ingest", f"{site}/news/alibaba.html", "--index", index, "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pass --allow-private" in err[0]
    assert main(["search", "fee charged on the H200 chips", "--index", index]) == 0
    found = capsys.readouterr().out
    first = found.split("\n2. ")[0]
    assert "127.0.0.1-nvidia-h200-china-" in first and "The chips carry a 25% fee" in first, found


def test_a_fetched_source_shows_its_outlet_and_links_to_where_it_was_published(
    site: str, tmp_path: Path
) -> None:
    """The page's source panel and Slack's source line link the title to the article's URL,
    with the outlet beside it; the Articles tab lists outlet and URL."""
    from rag.answers import Answer, Citation
    from rag.apps import slack_blocks
    from rag.apps import web as page
    from rag.library import list_articles
    from rag.present import present
    from rag.service import RAG
    from rag.stores import faiss_bm25 as store

    (article,) = _articles(f"{site}/news/nvidia-h200-china.html")
    store.ingest(tmp_path / "ix", [article], progress=False)
    rag = RAG(tmp_path / "ix")
    start = article.text.index(ARTICLE[1][:20])
    end = start + len(ARTICLE[1])
    cited = Citation(1, article.doc_id, article.title, article.date, "en",
                     article.text[start:end], start, end)  # fmt: skip
    view = present(Answer(f"{ARTICLE[1]} [1]", False, [cited]), rag.index.article)
    panel = page.evidence_html(view)
    assert f"<a href='{article.url}'" in panel and "Daily Wire · by Jane Doe" in panel
    slack = slack_blocks.source_mrkdwn(view.sources[0])
    assert slack.startswith(f"*[1] <{article.url}|Nvidia cleared") and "Daily Wire" in slack
    assert "by Jane Doe" in slack
    (row,) = list_articles(rag.index)
    assert (row["outlet"], row["url"]) == ("Daily Wire", article.url)
    assert "url" in page.ARTICLE_COLUMNS


def test_the_same_url_changed_replaces_its_old_version(
    site: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrected story fetched again from the same URL replaces the indexed one: its chunks
    are embedded again, the old text is gone from search, and the source says "updated". A
    reader's feedback row on an answer from the old version stays readable, with its quote."""
    from rag.feedback import FeedbackStore, export_eval_items, feedback_path
    from rag.service import RAG

    path = "/news/corrected.html"
    ROUTES[path] = (200, "text/html", PAGE.encode())
    index = str(tmp_path / "index")
    assert main(["ingest", f"{site}{path}", "--allow-private", "--index", index, "--quiet"]) == 0
    question = "How many units have Alibaba and ByteDance each asked for?"
    old = RAG(Path(index)).ask(question)
    assert any("200,000 units" in c.quote for c in old.citations), old
    feedback = FeedbackStore(feedback_path(Path(index)))
    feedback.record(question, old.to_dict(), "up", "right figure")
    corrected = PAGE.replace("more than 200,000 units", "more than 250,000 units")
    ROUTES[path] = (200, "text/html", corrected.encode())
    assert main(["ingest", f"{site}{path}", "--allow-private", "--index", index, "--quiet"]) == 0
    assert "0 added, 1 updated" in capsys.readouterr().out
    rag = RAG(Path(index))
    (doc_id,) = rag.index.doc_ids()
    article = rag.index.article(doc_id)
    assert "250,000 units" in article.text and "200,000 units" not in article.text
    assert article.updated is not None and article.url == f"{site}{path}"
    texts = [s.text for c in rag.index.chunks() for s in rag.index.sentences_of(c.chunk_id)]
    assert not any("200,000 units" in t for t in texts)
    (row,) = feedback.all()
    assert any("200,000 units" in c["quote"] for c in row.answer["citations"])
    (draft,) = export_eval_items([row])
    assert draft["sources"] == [doc_id] and draft["q"] == question


def test_a_copy_arriving_after_its_original_is_noted_on_the_indexed_article(
    site: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The wire story is indexed first; a syndicated copy on another site (its own menu and
    footer, one sentence changed) fetched later is not indexed again, and its address is
    stored on the original as "also published at", with nothing embedded again."""
    from rag.stores.registry import get_store

    copy = (PAGE.replace("Daily Wire", "Metro Post").replace("Markets Tech Opinion", "Home News")
            .replace("people familiar with", "two people familiar with")
            .replace('href="/news/nvidia-h200-china.html"', 'href="/metro/h200.html"'))  # fmt: skip
    ROUTES["/metro/h200.html"] = (200, "text/html", copy.encode())
    index = str(tmp_path / "index")
    original, later = f"{site}/news/nvidia-h200-china.html", f"{site}/metro/h200.html"
    assert main(["ingest", original, "--allow-private", "--index", index, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["ingest", later, "--allow-private", "--index", index, "--quiet"]) == 0
    out = capsys.readouterr()
    assert "already in the index" in out.err and f"also published at {later}" in out.err, out
    assert "0 added, 0 updated, 1 unchanged" in out.out and "embedded 0 chunks" in out.out, out
    store = get_store("faiss_bm25", Path(index))
    (doc_id,) = store.doc_ids()
    assert store.article(doc_id).also_at == [later]
    assert main(["ingest", later, "--allow-private", "--index", index, "--quiet"]) == 0
    assert get_store("faiss_bm25", Path(index)).article(doc_id).also_at == [later]  # noted once
    capsys.readouterr()
    question = "How many units have Alibaba and ByteDance each asked for?"
    assert main(["ask", question, "--index", index]) == 0
    shown = capsys.readouterr().out
    assert f"Daily Wire · by Jane Doe · {original}" in shown, shown
    assert f"also published at {later}" in shown, shown


def test_watch_polls_once_then_fetches_nothing_unchanged(
    site: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rag watch --once`: new items each logged; a second run sends conditional GETs, gets
    304s and fetches no item page again; a changed page is logged as updated; a failing
    source is logged and waits longer (backoff); the state is in SQLite beside the index."""
    import sqlite3

    index = tmp_path / "index"
    ROUTES["/news/watched.html"] = (200, "text/html", SECOND_PAGE.encode())
    sources = tmp_path / "sources.txt"
    sources.write_text(f"# feeds and pages\n{site}/feed.xml\n{site}/news/watched.html\n"
                       f"{site}/gone-for-good\n", "utf-8")  # fmt: skip
    args = ["watch", str(sources), "--once", "--allow-private", "--index", str(index)]
    REQUESTS.clear()
    assert main(args) == 0
    first = capsys.readouterr()
    assert "rag: watch: new " in first.err and "rag: watch: failed" in first.err
    assert "3 new" in first.out and "1 failed" in first.out, first
    REQUESTS.clear()
    assert main(args) == 0
    second = capsys.readouterr()
    assert REQUESTS == [] and "0 new" in second.out and "2 not modified" in second.out, second
    ROUTES["/news/watched.html"] = (
        200,
        "text/html",
        SECOND_PAGE.replace("4,8 %", "5,1 %").encode(),
    )
    assert main(args) == 0
    third = capsys.readouterr()
    assert "rag: watch: updated" in third.err and "1 updated" in third.out, third
    with sqlite3.connect(index / "watch.sqlite") as db:
        errors, status, next_poll = db.execute(
            "SELECT errors, last_status, next_poll FROM sources WHERE url LIKE '%gone-for-good'"
        ).fetchone()
        assert errors == 3 and status == "failed"
        assert next_poll - time.time() > 900 * 2**3 - 60  # the interval doubled per failure
        (seen,) = db.execute("SELECT count(*) FROM sources WHERE last_seen IS NOT NULL").fetchone()
        assert seen == 2


def test_watch_stops_cleanly_on_sigterm(site: str, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    sources = tmp_path / "sources.txt"
    sources.write_text(f"{site}/news/alibaba.html\n", "utf-8")
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rag.apps.cli", "watch", str(sources), "--interval", "60",
         "--allow-private", "--index", str(tmp_path / "index")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "index" / "watch.sqlite").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "watched 1 sources" in out and "Traceback" not in err


def test_the_watch_bench_reads_every_item_then_nothing_again() -> None:
    """The bench's runs on a small scale (2 feeds of 5 items): every item page fetched and
    indexed once; the second --once gets 304s and no body."""
    from rag.evaluation import watch_bench

    result = watch_bench.run(2, items=5)
    assert result["items"] == 10 and result["first_requests"] == 2 + 10
    assert result["second_requests"] == 0 and result["second_not_modified"] == 2


@pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs Chromium and chromedriver"
)
def test_the_articles_tab_adds_and_follows_a_feed_in_the_browser(
    site: str,
    seed_index: Path,
    tmp_path: Path,
    driver: Any,  # noqa: F811
) -> None:
    """The reader pastes a feed's address into "Add from URL": its items are indexed, listed
    with their outlet, and the feed appears under "Watched sources" with its status."""
    import shutil

    from tests.conftest import serve_page

    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    feed = f"{site}/atom.xml"
    with serve_page(index, allow_private_urls=True) as url, shot_on_failure(driver, "feed"):
        driver.get(url)
        tab = wait(driver, lambda d: [b for b in find(d, "button[role=tab]")
                                      if b.text.strip() == "Articles"])[0]  # fmt: skip
        tab.click()
        box = wait(driver, lambda d: find(d, "#add-url textarea"))[0]
        box.send_keys(feed)
        find(driver, "#fetch-url")[0].click()
        wait(
            driver, lambda d: "added: 127.0.0.1-alibaba-" in d.find_element("tag name", "body").text
        )
        wait(driver, lambda d: feed in d.find_element("css selector", "#watched").text)
        watched = find(driver, "#watched")[0].text
        assert "\nok\n" in f"\n{watched}\n".replace(" ", "\n"), watched
        find(driver, "#watched")[0].location_once_scrolled_into_view  # noqa: B018
        screenshot(driver, "watched-feed")


def test_an_updated_story_and_its_copies_show_on_its_source_in_the_browser(
    site: str,
    tmp_path: Path,
    driver: Any,  # noqa: F811
) -> None:
    """A story corrected at its URL, then republished elsewhere: the answer's source in the
    page links to the URL, names the outlet, says "updated DATE" and "also published at"."""
    from datetime import UTC, datetime

    from tests.conftest import serve_page

    path, copy_path = "/news/corrected-browser.html", "/metro/corrected-browser.html"
    ROUTES[path] = (200, "text/html", PAGE.encode())
    index = tmp_path / "index"
    ingest = ["--allow-private", "--index", str(index), "--quiet"]
    assert main(["ingest", f"{site}{path}", *ingest]) == 0
    corrected = PAGE.replace("more than 200,000 units", "more than 250,000 units")
    ROUTES[path] = (200, "text/html", corrected.encode())
    copy = corrected.replace("Daily Wire", "Metro Post").replace(
        'href="/news/nvidia-h200-china.html"', f'href="{copy_path}"'
    )
    ROUTES[copy_path] = (200, "text/html", copy.encode())
    assert main(["ingest", f"{site}{path}", *ingest]) == 0
    assert main(["ingest", f"{site}{copy_path}", *ingest]) == 0
    today = datetime.now(UTC).date().isoformat()
    with serve_page(index) as url, shot_on_failure(driver, "updated-source"):
        driver.get(url)
        ask(driver, "How many units have Alibaba and ByteDance each asked for?")
        wait(driver, lambda d: find(d, '#chat a.cite[href="#src-1"]') and find(d, "#src-1 mark"))
        source = find(driver, "#evidence section.source#src-1")[0]
        assert "250,000 units" in source.text and "Daily Wire · by Jane Doe" in source.text
        assert f"updated {today}" in source.text, source.text
        assert f"also published at: {site}{copy_path}" in source.text, source.text
        links = [a.get_attribute("href") for a in source.find_elements("css selector", "a")]
        assert f"{site}{path}" in links, links
        source.location_once_scrolled_into_view  # noqa: B018
        screenshot(driver, "updated-source")
