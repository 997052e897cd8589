"""Articles in, from .txt/.md/.html/.json/.jsonl files, with their metadata and their junk marked.

Junk (comment boxes, share buttons, ad markers, spam insertions) is *marked*, not deleted: the
original text is kept so that citation offsets point into the article exactly as it was published.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rag import lang as langs
from rag.config import InputLimits
from rag.errors import InputError, MissingExtra
from rag.ingest.decoding import read_text
from rag.ingest.planted import planted_spans

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".pdf",
                    ".docx")  # fmt: skip
BINARY_SUFFIXES = (".pdf", ".docx")  # read as documents, not decoded as text
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
    # Lines addressed to a model or its user ("ignore previous instructions"): rag.ingest.planted
    planted: list[tuple[int, int]] = field(default_factory=list)
    # Where near-copies of it were published (syndicated copies are stored once): rag.ingest.dedup
    also_at: list[str] = field(default_factory=list)
    # When a new version replaced the indexed one (the same URL or id, changed text)
    updated: str | None = None

    @property
    def untrusted(self) -> bool:
        """An article carrying planted instructions: its claims may be planted too."""
        return bool(self.planted)

    def content_hash(self) -> str:
        """Changes when the article changes; the source path does not, nor what the index
        notes about it (where copies ran, when it was updated), nor an empty `planted`, so
        indexes built before it existed stay current."""
        payload = {k: v for k, v in asdict(self).items()
                   if k not in ("source", "also_at", "updated") and (k != "planted" or v)}  # fmt: skip
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["junk"] = [list(span) for span in self.junk]
        record["planted"] = [list(span) for span in self.planted]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Article:
        fields = dict(record)
        fields["junk"] = [tuple(span) for span in fields.get("junk", [])]
        fields["planted"] = [tuple(span) for span in fields.get("planted", [])]
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


def _sidecar(path: Path) -> dict[str, Any]:
    meta_path = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not meta_path.exists():
        return {}
    raw = read_text(meta_path, InputLimits()).text  # a sidecar may be in GBK too
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError) as err:
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
        planted=planted_spans(text),
    )


def _without(text: str, junk: list[tuple[int, int]]) -> str:
    from rag.ingest.text import quote

    return quote(text, junk, 0, len(text))


@dataclass
class Loaded:
    """Articles read from files, and what was left out of them: each skipped file, JSON line
    or duplicate as a one-line reason naming the file (and the line, where there is one)."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)  # file -> encoding, if not UTF-8
    # indexed articles a copy of which arrived: with its address added to their "also
    # published at"; stored without re-embedding (their text is unchanged)
    noted: list[Article] = field(default_factory=list)

    def extend(self, more: Loaded) -> None:
        """`more` (read after this batch, with this batch's articles known) joined to it; a
        note on one of this batch's own articles goes onto that article."""
        self.articles += more.articles
        self.skipped += more.skipped
        self.encodings.update(more.encodings)
        mine = {a.doc_id: a for a in [*self.articles, *self.noted]}
        for article in more.noted:
            if (own := mine.get(article.doc_id)) is not None:
                own.also_at = list(dict.fromkeys([*own.also_at, *article.also_at]))
            else:
                self.noted.append(article)


def _json_articles(path: Path, items: Iterable[tuple[str, Any]]) -> Loaded:
    """An article per JSON object; an item that is not one is skipped with its reason."""
    loaded = Loaded()
    for where, obj in items:
        try:
            loaded.articles.append(_json_article(path, where, obj))
        except InputError as err:
            loaded.skipped.append(str(err))
    return loaded


def _json_article(path: Path, where: str, obj: Any) -> Article:
    if isinstance(obj, _NotJSON):
        raise InputError(f"{path}{where}: {obj.reason}")
    if not isinstance(obj, dict):
        raise InputError(f"{path}{where}: expected a JSON object with at least a 'text' field")
    text = obj.get("text")
    if not isinstance(text, str):
        raise InputError(
            f"{path}{where}: missing 'text' (fields: id, title, date, lang, url, text)"
        )
    doc_id = str(obj.get("id") or f"{path.stem}-{where.strip(':# ') or 0}")
    return make_article(doc_id, text.replace("\r\n", "\n"), obj, f"{path}{where}")


def load_file(path: Path, limits: InputLimits | None = None) -> Loaded:
    """All articles in one file, and the JSON lines or items skipped with their reasons; a file
    with nothing usable raises InputError with a one-line reason."""
    suffix = path.suffix.lower()
    if suffix not in ARTICLE_SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix or '(none)'}; use {_suffix_list()}"
        )
    if suffix in BINARY_SUFFIXES:
        return Loaded([_document(path, suffix, limits or InputLimits())])
    decoded = read_text(path, limits or InputLimits())
    loaded = _articles_of(path, suffix, decoded.text)
    if not decoded.is_utf8:
        loaded.encodings[str(path)] = decoded.encoding
    if not loaded.articles:
        first = loaded.skipped[0] if loaded.skipped else f"{path}: no articles in it"
        more = len(loaded.skipped) - 1
        raise InputError(first + (f" (and {more} more like it; nothing usable)" if more else ""))
    return loaded


def _document(path: Path, suffix: str, limits: InputLimits) -> Article:
    """A PDF or Word file, its sidecar's metadata over the file's own."""
    from rag.ingest import documents

    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise InputError(f"{path}: {size // 1_000_000} MB is more than the "
                         f"{limits.max_file_bytes // 1_000_000} MB an article file may be")  # fmt: skip
    read = documents.pdf_text if suffix == ".pdf" else documents.docx_text
    meta, text = read(path.read_bytes(), str(path))
    meta = {**meta, **_sidecar(path)}
    return make_article(str(meta.get("id") or path.stem), text, meta, str(path))


def _articles_of(path: Path, suffix: str, raw: str) -> Loaded:
    if suffix == ".jsonl":
        return _json_articles(path, _jsonl_objects(path, raw))
    if suffix == ".json":
        return _json_file(path, raw)
    meta: dict[str, Any] = {}
    text = raw
    if suffix in (".md", ".markdown"):
        meta, text = _parse_front_matter(raw)
    elif suffix in (".html", ".htm"):
        from rag.ingest.pages import extract_page

        meta, text = extract_page(raw, None)
    meta = {**{k: v for k, v in meta.items() if v}, **_sidecar(path)}
    return Loaded([make_article(str(meta.get("id") or path.stem), text, meta, str(path))])


def _json_file(path: Path, raw: str) -> Loaded:
    """One object or a list of them; a list cut off mid-way keeps its complete items."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise InputError(f"{path} is not valid JSON: nested too deeply") from None
    except ValueError as err:
        if not raw.lstrip().startswith("["):
            raise InputError(f"{path} is not valid JSON: {err}") from None
        items, cut = _complete_items(raw)
        loaded = _json_articles(path, ((f"#{i}", o) for i, o in enumerate(items)))
        loaded.skipped.append(
            f"{path}: not valid JSON after item #{len(items) - 1} (cut off?), line {cut.lineno}: "
            f"{cut.msg}; the {len(items)} complete item(s) before it are kept"
        )
        return loaded
    items = data if isinstance(data, list) else [data]
    return _json_articles(path, ((f"#{i}", o) for i, o in enumerate(items)))


def _complete_items(raw: str) -> tuple[list[Any], json.JSONDecodeError]:
    """The items of a JSON list up to where it breaks, and the error there."""
    decoder = json.JSONDecoder()
    items: list[Any] = []
    at = raw.index("[") + 1
    while True:
        at = _skip(raw, at, " \t\r\n,")
        try:
            item, at = decoder.raw_decode(raw, at)
        except json.JSONDecodeError as err:
            return items, err
        except RecursionError:
            return items, json.JSONDecodeError("nested too deeply", raw, at)
        items.append(item)


def _skip(raw: str, at: int, chars: str) -> int:
    while at < len(raw) and raw[at] in chars:
        at += 1
    return at


def _jsonl_objects(path: Path, raw: str) -> Iterator[tuple[str, Any]]:
    """(":line", object) per line; a line that is not JSON is yielded as its error, which
    `_json_article` then refuses with the line number."""
    lines = raw.splitlines()
    last = max((n for n, line in enumerate(lines, start=1) if line.strip()), default=0)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield f":{number}", json.loads(line)
        except json.JSONDecodeError as err:
            cut = " (cut off?)" if number == last else ""
            yield f":{number}", _NotJSON(f"not valid JSON{cut}: {err.msg}: column {err.colno}")
        except (ValueError, RecursionError):
            yield f":{number}", _NotJSON("not valid JSON (nested too deeply)")


@dataclass(frozen=True)
class _NotJSON:
    """A JSONL line that did not parse, and why."""

    reason: str


def _suffix_list() -> str:
    return ", ".join(ARTICLE_SUFFIXES)


def article_files(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Files to read (folders expanded recursively, skipping hidden files and sidecars), and a
    reason for each path that gives none: missing, an empty folder, a folder's file of a type
    we do not read."""
    files: list[Path] = []
    skipped: list[str] = []
    for path in paths:
        if not path.exists():
            skipped.append(f"{path}: no such file or folder")
        elif path.is_dir():
            found, others = _folder_files(path)
            if not found:
                skipped.append(f"{path}: no articles found (looked for {_suffix_list()})")
            files.extend(found)
            skipped.extend(f"{p}: unsupported file type {p.suffix or '(none)'}" for p in others)
        else:
            files.append(path)
    return files, skipped


def _folder_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """A folder's article files, and its other visible files, each sorted."""
    visible = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not p.name.endswith(SIDECAR_SUFFIX)
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    articles = [p for p in visible if p.suffix.lower() in ARTICLE_SUFFIXES]
    return articles, [p for p in visible if p.suffix.lower() not in ARTICLE_SUFFIXES]


class Deduplicator:
    """Admits an article once: the same text again (under any id) is a duplicate, another text
    under an id the batch already took is a clash; either is refused with its reason. `known`
    (the index's articles) makes a renamed copy of an indexed article a duplicate too, while
    the same id with the same text stays an unchanged article."""

    def __init__(
        self, known: Iterable[Article] = (), signatures: dict[str, Any] | None = None
    ) -> None:
        known = list(known)
        self._known = {_text_key(a.text): a.doc_id for a in known}
        self._indexed = {a.doc_id: a for a in known}
        self._by_id: dict[str, Article] = {}
        self._by_text: dict[str, Article] = {}
        self._signatures = {} if signatures is None else signatures
        self._near = _near_duplicates(known, self._signatures)
        self._noted: dict[str, Article] = {}

    @property
    def noted(self) -> list[Article]:
        """Indexed articles a copy of which was refused, each with the copy's address added to
        its "also published at" (to store again; the text, so the vectors, are unchanged)."""
        return [a for doc_id, a in self._noted.items() if doc_id not in self._by_id]

    def refusal(self, article: Article) -> str | None:
        """None, and the article is remembered; or why it is left out."""
        key = _text_key(article.text)
        if (first := self._by_text.get(key)) is not None:
            self._note(first.doc_id, article)
            return (
                f"{article.source}: the same text as {first.source}; kept once, as {first.doc_id}"
            )
        if self._known.get(key, article.doc_id) != article.doc_id:
            where = self._note(self._known[key], article)
            return (
                f"{article.source}: the same text as {self._known[key]}, already in the index; "
                f"not added again{f', also published at {where}' if article.url else ''}"
            )
        if (first := self._by_id.get(article.doc_id)) is not None:
            return (
                f"{article.source}: duplicate document id {article.doc_id!r}: {first.source} "
                "has it too; ids come from file names or 'id' fields, so rename one"
            )
        if self._near is not None and (copy := self._syndicated(article)) is not None:
            return copy
        if (noted := self._noted.get(article.doc_id)) is not None:  # a new version of it
            article.also_at = list(dict.fromkeys([*article.also_at, *noted.also_at]))
        self._by_id[article.doc_id] = self._by_text[key] = article
        return None

    def _note(self, doc_id: str, copy: Article) -> str:
        """Where `copy` ran (its URL), added to the "also published at" of the article `doc_id`
        (one of this batch's, or an indexed one, then also listed in `noted`); the place. A
        copy with no URL (a second file) is reported, not noted: it was published nowhere."""
        where = copy.url or copy.source
        if not copy.url:
            return where
        kept = self._by_id.get(doc_id)
        if kept is None and doc_id in self._indexed:
            original = self._indexed[doc_id]
            kept = self._noted.setdefault(doc_id, replace(original, also_at=[*original.also_at]))
        if kept is not None and where not in (kept.url, kept.source, *kept.also_at):
            kept.also_at.append(where)
        return where

    def admit(self, articles: Iterable[Article], batch: Loaded) -> None:
        """Each article into `batch`: its articles, or its skipped lines with the reason; the
        indexed articles noted so far replace `batch.noted`."""
        for article in articles:
            refusal = self.refusal(article)
            if refusal is None:
                batch.articles.append(article)
            else:
                batch.skipped.append(refusal)
        batch.noted = self.noted

    def _syndicated(self, article: Article) -> str | None:
        """The reason a near-copy of a kept article is left out (the same story republished
        with other boilerplate or a changed sentence), its address noted on the kept one; or
        None, and the article is indexed for the next ones."""
        from rag.ingest import dedup

        assert self._near is not None
        minhash = self._signatures.setdefault(
            _text_key(article.text), dedup.signature(article.text)
        )
        match = self._near.match(minhash, exclude={article.doc_id})
        if match is None:
            self._near.add(article.doc_id, minhash)
            return None
        in_index = "" if match.key in self._by_id else ", already in the index"
        where = self._note(match.key, article)
        return (f"{article.source}: a copy of {match.key}{in_index} (similarity "
                f"{match.similarity:.2f}); kept once, also published at {where}")  # fmt: skip


def mark_updates(articles: Iterable[Article], known: Iterable[Article]) -> list[str]:
    """Articles that replace an indexed version with changed text get today's date as
    `updated`, and keep what the index noted about them (where copies ran); the ids updated."""
    from datetime import UTC, datetime

    indexed = {a.doc_id: a for a in known}
    today = datetime.now(UTC).date().isoformat()
    updated = []
    for article in articles:
        old = indexed.get(article.doc_id)
        if old is None:
            continue
        article.also_at = list(dict.fromkeys([*old.also_at, *article.also_at]))
        if old.content_hash() != article.content_hash():
            article.updated = today
            updated.append(article.doc_id)
        else:
            article.updated = old.updated
    return updated


def _near_duplicates(known: list[Article], signatures: dict[str, Any]) -> Any:
    """An LSH index of the known articles' MinHash signatures; None without datasketch (the
    `intake` extra), where only exact copies are caught. `signatures` (by text key) are reused
    and filled in: a long-running caller (`rag watch`) signs each indexed text once, not once
    per poll."""
    try:
        from rag.ingest import dedup

        index = dedup.NearDuplicates()
        for article in known:
            key = _text_key(article.text)
            if key not in signatures:
                signatures[key] = dedup.signature(article.text)
            index.add(article.doc_id, signatures[key])
    except MissingExtra:
        return None
    return index


def _text_key(text: str) -> str:
    """Equal for texts that differ only in whitespace."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def load_batch(
    paths: Iterable[Path], limits: InputLimits | None = None, known: Iterable[Article] = ()
) -> Loaded:
    """Every usable article in `paths`, each once and none that `known` (the index) holds
    under another id; every file, line or duplicate left out is in `skipped` with its one-line
    reason, so one bad file never costs the others."""
    files, skipped = article_files(paths)
    batch = Loaded(skipped=skipped)
    seen = Deduplicator(known)
    for file in files:
        try:
            loaded = load_file(file, limits)
        except InputError as err:
            batch.skipped.append(str(err))
            continue
        batch.skipped.extend(loaded.skipped)
        batch.encodings.update(loaded.encodings)
        seen.admit(loaded.articles, batch)
    return batch


def load_articles(paths: Iterable[Path], limits: InputLimits | None = None) -> list[Article]:
    """Every article in `paths`, all or nothing: the first thing left out is an InputError
    (for callers that must not index a partial set; `load_batch` reports and goes on)."""
    batch = load_batch(paths, limits)
    if batch.skipped:
        more = len(batch.skipped) - 1
        raise InputError(batch.skipped[0] + (f" (and {more} more problem(s))" if more else ""))
    return batch.articles
