"""Articles in, from .txt/.md/.html/.json/.jsonl files, with their metadata and their junk marked.

Junk (comment boxes, share buttons, ad markers, spam insertions) is *marked*, not deleted: the
original text is kept so that citation offsets point into the article exactly as it was published.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag import lang as langs
from rag.errors import InputError

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
SIDECAR_SUFFIX = ".meta.json"
METADATA_FIELDS = ("title", "date", "lang", "url", "outlet", "author")

# Whole lines that are page furniture, in the languages we publish.
_JUNK_LINES = re.compile(
    r"^\s*(featured|tags|share( this)? (article|story)|related articles|continue exploring.*|"
    r"author avatar|add a public comment\.*|no comments yet|sin comentarios|"
    r"a[uú]n no hay comentarios|comentarios|comments?|kommentare( \(\d+\))?.*|"
    r"anzeige|advertisement|publicidad|werbung|广告|"
    r"\d+\s*(min|minutes?)\s*(read|de lectura|lesezeit).*|published on\b.*last updated.*|"
    r".*配资提示.*|.*免责声明.*)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# Markers after which the rest of the page is furniture (comment threads, related links).
_TRAILER = re.compile(
    r"^\s*(tags|share this article|related articles|author avatar|comentarios|"
    r"kommentare( \(\d+\))?.*|comments( \(\d+\))?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# Inline insertions inside article sentences (spam keywords, trailing ad labels).
_JUNK_INLINE = re.compile(r"配资炒股(官方网|官网|平台)?|[ \t]+Anzeige[ \t]*$", re.MULTILINE)
_ISO_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)


@dataclass
class Article:
    """One news article: its original text, where the junk is, and what we know about it."""

    doc_id: str
    text: str
    title: str
    lang: str
    date: str | None = None
    url: str | None = None
    outlet: str | None = None
    author: str | None = None
    source: str = ""
    junk: list[tuple[int, int]] = field(default_factory=list)

    def content_hash(self) -> str:
        """Changes when anything that ends up in the index changes; the source path does not."""
        payload = {k: v for k, v in asdict(self).items() if k != "source"}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["junk"] = [list(span) for span in self.junk]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Article:
        fields = dict(record)
        fields["junk"] = [tuple(span) for span in fields.get("junk", [])]
        return cls(**fields)


def find_junk(text: str) -> list[tuple[int, int]]:
    """Spans of page furniture; sorted, possibly overlapping."""
    spans = [m.span() for m in _JUNK_LINES.finditer(text)]
    spans += [m.span() for m in _JUNK_INLINE.finditer(text)]
    for marker in _TRAILER.finditer(text):
        if marker.start() > len(text) * 0.5:  # only a page's tail, never a mid-article heading
            spans.append((marker.start(), len(text)))
            break
    return sorted(spans)


def _first_content_line(text: str, junk: list[tuple[int, int]]) -> str:
    for match in re.finditer(r"[^\n]+", text):
        line = match.group().strip()
        inside_junk = any(a <= match.start() and match.end() <= b for a, b in junk)
        if line and not inside_junk and any(ch.isalnum() for ch in line):
            return line if len(line) <= 120 else line[:119].rstrip() + "…"
    return ""


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    if b"\x00" in data[:8192]:
        raise InputError(f"{path} is a binary file, not an article (expected text, HTML or JSON)")
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not valid UTF-8 text; convert it to UTF-8 first") from None


def _sidecar(path: Path) -> dict[str, Any]:
    meta_path = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not meta_path.exists():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"metadata file {meta_path} is not valid JSON: {err}") from None
    if not isinstance(meta, dict):
        raise InputError(f"metadata file {meta_path} must hold one JSON object")
    return meta


def _parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip().lower()] = value.strip().strip("\"'") or None
    return meta, text[match.end() :]


def _html_article(html: str) -> tuple[dict[str, Any], str]:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(html)
    meta: dict[str, Any] = {}

    def meta_content(*selectors: str) -> str | None:
        for selector in selectors:
            node = tree.css_first(selector)
            if node is not None and node.attributes.get("content"):
                return node.attributes["content"]
        return None

    title_node = tree.css_first("title") or tree.css_first("h1")
    meta["title"] = meta_content('meta[property="og:title"]') or (
        title_node.text(strip=True) if title_node else None
    )
    meta["date"] = meta_content(
        'meta[property="article:published_time"]', 'meta[name="date"]', 'meta[name="pubdate"]'
    )
    if meta["date"] is None and (time_node := tree.css_first("time[datetime]")) is not None:
        meta["date"] = time_node.attributes.get("datetime")
    meta["url"] = meta_content('meta[property="og:url"]')
    meta["author"] = meta_content('meta[name="author"]')
    meta["outlet"] = meta_content('meta[property="og:site_name"]')
    html_node = tree.css_first("html")
    if html_node is not None and html_node.attributes.get("lang"):
        meta["lang"] = (html_node.attributes["lang"] or "").split("-")[0].lower()
    tree.strip_tags(["script", "style", "noscript", "nav", "footer", "aside", "form", "header"])
    body = tree.css_first("article") or tree.body or tree.root
    text = body.text(separator="\n", strip=True) if body is not None else ""
    return meta, re.sub(r"\n{3,}", "\n\n", text)


def _normalize_date(value: Any) -> str | None:
    if value in (None, ""):
        return None
    match = _ISO_DATE.search(str(value))
    return match.group(0) if match else None


def make_article(doc_id: str, text: str, meta: dict[str, Any], source: str) -> Article:
    """Fill what the metadata does not say from the text itself: title, date, language."""
    if not text.strip():
        raise InputError(f"{source}: the article has no text")
    junk = find_junk(text)
    clean_sample = re.sub(r"\s+", " ", _without(text, junk))[:4000]
    date = _normalize_date(meta.get("date")) or _normalize_date(text[:600])
    return Article(
        doc_id=doc_id,
        text=text,
        title=str(meta.get("title") or _first_content_line(text, junk) or doc_id),
        lang=str(meta.get("lang") or langs.detect(clean_sample)),
        date=date,
        url=meta.get("url"),
        outlet=meta.get("outlet"),
        author=meta.get("author"),
        source=source,
        junk=junk,
    )


def _without(text: str, junk: list[tuple[int, int]]) -> str:
    from rag.ingest.text import quote

    return quote(text, junk, 0, len(text))


def _json_articles(path: Path, objects: Iterable[tuple[str, Any]]) -> Iterator[Article]:
    for where, obj in objects:
        if not isinstance(obj, dict):
            raise InputError(f"{path}{where}: expected a JSON object with at least a 'text' field")
        text = obj.get("text")
        if not isinstance(text, str):
            raise InputError(
                f"{path}{where}: missing 'text' (fields: id, title, date, lang, url, text)"
            )
        doc_id = str(obj.get("id") or f"{path.stem}-{where.strip(':# ') or 0}")
        yield make_article(doc_id, text.replace("\r\n", "\n"), obj, f"{path}{where}")


def load_file(path: Path) -> list[Article]:
    """All articles in one file; raises RagError with a one-line reason for anything unusable."""
    suffix = path.suffix.lower()
    if suffix not in ARTICLE_SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix or '(none)'}; use {_suffix_list()}"
        )
    raw = _read_text(path)
    if suffix == ".jsonl":
        return list(_json_articles(path, _jsonl_objects(path, raw)))
    if suffix == ".json":
        try:
            data = json.loads(raw)
        except ValueError as err:
            raise InputError(f"{path} is not valid JSON: {err}") from None
        items = data if isinstance(data, list) else [data]
        return list(_json_articles(path, ((f"#{i}", o) for i, o in enumerate(items))))
    meta: dict[str, Any] = {}
    text = raw
    if suffix in (".md", ".markdown"):
        meta, text = _parse_front_matter(raw)
    elif suffix in (".html", ".htm"):
        meta, text = _html_article(raw)
    meta = {**{k: v for k, v in meta.items() if v}, **_sidecar(path)}
    return [make_article(str(meta.get("id") or path.stem), text, meta, str(path))]


def _jsonl_objects(path: Path, raw: str) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            try:
                yield f":{number}", json.loads(line)
            except ValueError as err:
                raise InputError(f"{path}:{number} is not valid JSON: {err}") from None


def _suffix_list() -> str:
    return ", ".join(ARTICLE_SUFFIXES)


def article_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders (recursively, skipping hidden files and sidecars); check that files exist."""
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in ARTICLE_SUFFIXES
                and not p.name.endswith(SIDECAR_SUFFIX)
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise InputError(f"{path}: no articles found (looked for {_suffix_list()})")
            files.extend(found)
        else:
            files.append(path)
    return files


def load_articles(paths: Iterable[Path]) -> list[Article]:
    articles: dict[str, Article] = {}
    for file in article_files(paths):
        for article in load_file(file):
            if article.doc_id in articles:
                raise InputError(
                    f"duplicate document id {article.doc_id!r} in {article.source} and "
                    f"{articles[article.doc_id].source}; ids come from file names or 'id' fields"
                )
            articles[article.doc_id] = article
    return list(articles.values())
