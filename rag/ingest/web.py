"""Articles from the web: pages, feeds, PDFs and Word files fetched over HTTP, safely.

A newsroom follows sources rather than files. `rag ingest URL` fetches the URL with a client
that cannot be turned against the machine it runs on: only http and https, no private,
loopback or link-local address unless asked for (`--allow-private`, which the loopback tests
use), redirects followed one hop at a time and each hop checked again, a timeout on every read
and a cap on the size of what is read. What comes back is dispatched by its content type: an
HTML page gives its main text and metadata (trafilatura: menus, cookie banners, related links
and comments stay out), an RSS, Atom or JSON feed gives its items (each item's page, or the
item's own content when the page cannot be fetched), a PDF or a Word file its text.

Every failure is one line naming the URL and what to do about it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from rag.errors import InputError
from rag.ingest.corpus import Article, Deduplicator, Loaded, make_article
from rag.ingest.documents import docx_text, intake, pdf_text
from rag.ingest.pages import extract_page

# What the intake reads, by content type; anything else is refused with its type named.
HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
              "application/rdf+xml", "application/xml", "text/xml", "application/json")  # fmt: skip
PDF_TYPES = ("application/pdf",)
DOCX_TYPES = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
READABLE = (*HTML_TYPES, *FEED_TYPES, *PDF_TYPES, *DOCX_TYPES, "text/plain")


@dataclass(frozen=True)
class FetchLimits:
    """How long and how much one fetch may take: a news page is well under a megabyte."""

    timeout_s: float = 15.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    user_agent: str = "rag-news/0.1 (+https://example.invalid/rag-news)"


@dataclass(frozen=True)
class Fetched:
    """A response read whole: where it was asked for, where it ended up, and what it is."""

    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    charset: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class Fetcher:
    """HTTP GET with the checks above. `allow_private` lets it reach loopback and private
    networks (tests, an intranet); `resolve` is the name lookup, replaceable in tests."""

    limits: FetchLimits = field(default_factory=FetchLimits)
    allow_private: bool = False
    resolve: Callable[[str], list[str]] = field(default=lambda host: _addresses(host))

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        httpx = intake("httpx")
        headers = {"User-Agent": self.limits.user_agent, "Accept": ", ".join(READABLE)}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        timeout = httpx.Timeout(self.limits.timeout_s)
        current = url
        with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
            for _ in range(self.limits.max_redirects + 1):
                self.check(current)
                try:
                    fetched = self._read(client, url, current, headers)
                except httpx.TimeoutException as err:
                    raise InputError(
                        f"{url}: no answer within {self.limits.timeout_s:g} s; try again later"
                    ) from err
                except httpx.HTTPError as err:
                    raise InputError(f"{url}: cannot fetch it: {_reason(err)}") from err
                if isinstance(fetched, str):
                    current = fetched  # a redirect: checked again before it is followed
                    continue
                return fetched
        raise InputError(
            f"{url}: more than {self.limits.max_redirects} redirects; give the final URL"
        )

    def check(self, url: str) -> None:
        """Refuse what this client must not reach: other schemes, and (unless allowed)
        addresses inside the machine or its network."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise InputError(f"{url}: only http and https URLs can be fetched")
        host = parts.hostname
        if not host:
            raise InputError(f"{url}: no host in the URL")
        if self.allow_private:
            return
        for address in self.resolve(host):
            ip = ipaddress.ip_address(address)
            if not ip.is_global or ip.is_multicast:
                raise InputError(
                    f"{url}: {host} is a private, loopback or link-local address ({address}); "
                    "pass --allow-private to fetch from your own network"
                )

    def _read(self, client: Any, url: str, current: str, headers: dict[str, str]) -> Fetched | str:
        """The response, or the next URL when it is a redirect."""
        deadline = time.monotonic() + self.limits.timeout_s
        with client.stream("GET", current, headers=headers) as response:
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("location")
                if not location:
                    raise InputError(f"{url}: a redirect without a Location")
                return urljoin(current, location)
            if response.status_code == 304:
                return Fetched(url, current, 304, "", b"", response.headers.get("etag"),
                               response.headers.get("last-modified"))  # fmt: skip
            if response.status_code >= 400:
                raise InputError(f"{url}: the server answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.limits.max_bytes:
                raise InputError(self._too_big(url))
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > self.limits.max_bytes:
                    raise InputError(self._too_big(url))
                if time.monotonic() > deadline:
                    raise InputError(
                        f"{url}: still sending after {self.limits.timeout_s:g} s; try again later"
                    )
            content_type, charset = _content_type(response.headers.get("content-type", ""))
            return Fetched(url, str(response.url), response.status_code, content_type,
                           bytes(body), response.headers.get("etag"),
                           response.headers.get("last-modified"), charset)  # fmt: skip

    def _too_big(self, url: str) -> str:
        return f"{url}: larger than {self.limits.max_bytes // 1_000_000} MB; not an article page"


def _addresses(host: str) -> list[str]:
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
    except socket.gaierror as err:
        raise InputError(f"{host}: no such host ({err.strerror})") from err


def _content_type(header: str) -> tuple[str, str | None]:
    kind, _, params = header.partition(";")
    charset = re.search(r"charset=\"?([\w.-]+)", params, re.IGNORECASE)
    return kind.strip().lower(), charset.group(1) if charset else None


def _reason(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


# ------------------------------------------------------------------ what came back


@dataclass
class FeedItems:
    """Which of a feed's items to read (`seen`: an item whose link and date were read before
    is not fetched again) and what became of the others: each failed item is one line."""

    seen: Callable[[str, str], bool] = field(default=lambda link, stamp: False)
    failed: list[str] = field(default_factory=list)
    passed_over: int = 0
    stamps: dict[str, str] = field(default_factory=dict)  # link -> the item's date as given


def articles_from(
    fetched: Fetched, fetcher: Fetcher, items: FeedItems | None = None
) -> Iterator[Article]:
    """The articles in a fetched response, by what it is (its type, or its first bytes)."""
    kind = _kind(fetched)
    if kind == "html":
        yield page_article(fetched)
    elif kind == "feed":
        yield from feed_articles(fetched, fetcher, items or FeedItems())
    elif kind in ("pdf", "docx"):
        read = pdf_text if kind == "pdf" else docx_text
        meta, text = read(fetched.body, fetched.url)
        url = fetched.final_url
        yield make_article(_doc_id(url), text, {**meta, "url": url}, fetched.url)
    else:
        raise InputError(
            f"{fetched.url}: {fetched.content_type or 'no content type'} is not an article "
            "(a web page, a feed, a PDF or a Word file)"
        )


def _kind(fetched: Fetched) -> str:
    head = fetched.body[:512].lstrip().lower()
    if fetched.content_type in PDF_TYPES or head.startswith(b"%pdf"):
        return "pdf"
    if fetched.content_type in DOCX_TYPES:
        return "docx"
    if (
        head.startswith((b"<rss", b"<feed", b"<rdf:rdf"))
        or b"jsonfeed.org" in head
        or (head.startswith(b"<?xml") and re.search(rb"<(rss|feed|rdf:rdf)[\s>]", head))
    ):
        return "feed"
    if fetched.content_type in HTML_TYPES or head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if fetched.content_type in FEED_TYPES:
        return "feed"
    return "other"


def page_article(fetched: Fetched, fallback: dict[str, Any] | None = None) -> Article:
    """The page's main text and its metadata (title, date, outlet, author, canonical URL)."""
    html = _decode(fetched)
    meta, text = extract_page(html, fetched.final_url)
    meta = {**(fallback or {}), **{k: v for k, v in meta.items() if v}}
    if not text.strip():
        raise InputError(f"{fetched.url}: no article text found on the page")
    url = meta.get("url") or fetched.final_url
    return make_article(_doc_id(url), text, {**meta, "url": url}, fetched.url)


def _decode(fetched: Fetched) -> str:
    from charset_normalizer import from_bytes

    if fetched.charset:
        try:
            return fetched.body.decode(fetched.charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return fetched.body.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(fetched.body).best()
        return str(best) if best is not None else fetched.body.decode("latin-1")


def feed_articles(fetched: Fetched, fetcher: Fetcher, items: FeedItems) -> Iterator[Article]:
    """Each new item's page, or the item's own content where the page cannot be fetched."""
    if _is_json_feed(fetched.body):
        yield from _json_feed_articles(fetched, fetcher, items)
        return
    feed = intake("feedparser").parse(
        fetched.body, response_headers={"content-type": _header(fetched)}
    )
    if not feed.entries:
        raise InputError(f"{fetched.url}: a feed with no items (or not a feed)")
    outlet = feed.feed.get("title")
    for entry in feed.entries:
        link = entry.get("link")
        meta = {"title": entry.get("title"), "date": _entry_date(entry), "outlet": outlet,
                "author": entry.get("author"), "url": link}  # fmt: skip
        stamp = str(entry.get("updated") or entry.get("published") or "")
        yield from _wanted_item(entry, meta, stamp, fetched, fetcher, items)


def _wanted_item(
    entry: Any,
    meta: dict[str, Any],
    stamp: str,
    feed: Fetched,
    fetcher: Fetcher,
    items: FeedItems,
) -> Iterator[Article]:
    """The item's article unless it was read before; a failure is noted, not raised, so one
    bad item costs no other."""
    link = urljoin(feed.final_url, meta["url"]) if meta.get("url") else ""
    if link and items.seen(link, stamp):
        items.passed_over += 1
        return
    try:
        yield _item_article(entry, meta, feed, fetcher)
    except InputError as err:
        items.failed.append(str(err))
        return
    if link:
        items.stamps[link] = stamp


def _is_json_feed(body: bytes) -> bool:
    return body.lstrip().startswith(b"{") and b"jsonfeed.org" in body[:2000]


def _json_feed_articles(fetched: Fetched, fetcher: Fetcher, items: FeedItems) -> Iterator[Article]:
    """JSON Feed 1.0/1.1 (feedparser reads RSS and Atom): the same item handling."""
    import json

    try:
        feed = json.loads(_decode(fetched))
    except ValueError as err:
        raise InputError(f"{fetched.url}: a JSON feed that is not valid JSON ({err})") from err
    entries = feed.get("items") if isinstance(feed, dict) else None
    if not entries:
        raise InputError(f"{fetched.url}: a feed with no items")
    for item in entries:
        html = item.get("content_html") or item.get("content_text") or item.get("summary") or ""
        entry = {"content": [{"value": html}], "summary": item.get("summary")}
        meta = {"title": item.get("title"), "date": item.get("date_published"),
                "outlet": feed.get("title"), "author": (item.get("authors") or [{}])[0].get("name"),
                "url": item.get("url") or item.get("external_url")}  # fmt: skip
        stamp = str(item.get("date_modified") or item.get("date_published") or "")
        yield from _wanted_item(entry, meta, stamp, fetched, fetcher, items)


def _item_article(entry: Any, meta: dict[str, Any], feed: Fetched, fetcher: Fetcher) -> Article:
    link = meta.get("url")
    if link:
        try:
            return page_article(fetcher.get(urljoin(feed.final_url, link)), meta)
        except InputError:
            pass  # the page cannot be had: the item's own content stands in
    content = entry.get("content") or []
    html = (content[0].get("value") if content else None) or entry.get("summary") or ""
    _, text = extract_page(f"<html><body><article>{html}</article></body></html>", link or "")
    text = text or re.sub(r"<[^>]+>", " ", html).strip()
    if not text:
        raise InputError(f"{feed.url}: item {meta.get('title') or link!r} has no text")
    url = urljoin(feed.final_url, link) if link else feed.final_url
    return make_article(_doc_id(url), text, {**meta, "url": url}, feed.url)


def _entry_date(entry: Any) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", parsed) if parsed else None


def _header(fetched: Fetched) -> str:
    return fetched.content_type + (f"; charset={fetched.charset}" if fetched.charset else "")


def _doc_id(url: str) -> str:
    """A readable, stable id for a URL: its host and last path part, and a short hash so two
    pages with one slug stay two (`example.com-h200-exports-3f2a9c1b`)."""
    parts = urlsplit(url)
    slug = re.sub(r"\.(html?|php|aspx?|pdf|docx)$", "", parts.path.rstrip("/").rsplit("/", 1)[-1])
    slug = re.sub(r"[^\w-]+", "-", slug).strip("-")[:60]
    digest = hashlib.sha1(url.encode()).hexdigest()[:8]
    host = (parts.hostname or "web").removeprefix("www.")
    return "-".join(p for p in (host, slug, digest) if p)


def is_url(text: str) -> bool:
    """A scheme:// prefix: fetched (http, https) or refused with its reason (file://, ftp://)."""
    return re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE) is not None


def fetch_batch(
    urls: list[str], fetcher: Fetcher, known: list[Article], progress: bool = False
) -> Loaded:
    """Every article the URLs give (a page, a feed's items, a document), each once and none
    that `known` holds under another id; each URL or item left out is one line in `skipped`."""
    batch = Loaded()
    seen = Deduplicator(known)
    for url in urls:
        items = FeedItems()
        try:
            fetched = fetcher.get(url)
            found = list(articles_from(fetched, fetcher, items))
        except InputError as err:
            batch.skipped.append(str(err))
            continue
        batch.skipped.extend(items.failed)
        if progress:
            import sys

            print(f"rag: fetched {url}: {len(found)} article(s)", file=sys.stderr)
        seen.admit(found, batch)
    return batch
