"""An HTML page (a fetched URL or an .html file) as an article's metadata and main text.

One reader for both, so that a page saved to disk and the same page fetched reads the same:
the metadata from the whole page, the text by trafilatura between the two furniture passes of
`rag.ingest.furniture` (`rag eval-extraction` measures it).
"""

from __future__ import annotations

from typing import Any


def extract_page(html: str, url: str | None) -> tuple[dict[str, Any], str]:
    """Main text and metadata: the metadata from the whole page, the text by trafilatura from
    the page with its furniture taken out, and then only the blocks that read as the article's
    own prose (`rag.ingest.furniture`). Paragraphs stay paragraphs. A page where no block reads
    as prose (a bare text file with tags) keeps its visible text rather than losing it.
    trafilatura's `deduplicate` stays off: it remembers paragraphs across calls, so the same
    page fetched again (a check for updates) would come back empty."""
    from copy import deepcopy

    import trafilatura
    from trafilatura.metadata import extract_metadata

    from rag.ingest import furniture

    tree = _html_tree(html)
    if tree is None:
        return {}, ""
    whole = deepcopy(tree)
    found = extract_metadata(deepcopy(tree), default_url=url)
    doc = trafilatura.bare_extraction(
        furniture.clean_markup(tree), url=url, with_metadata=False, include_comments=False,
        include_tables=False, include_images=False, deduplicate=False,
    )  # fmt: skip
    meta = {"title": found.title, "date": found.date, "outlet": found.sitename,
            "author": found.author, "url": found.url or url, "lang": _page_lang(whole)}  # fmt: skip
    body = getattr(doc, "body", None)  # a Document (a dict only when asked for one)
    blocks = furniture.article_blocks(body, found.title, found.sitename) if body is not None else []
    return meta, "\n\n".join(blocks) or furniture.visible_text(whole)


def _page_lang(tree: Any) -> str | None:
    """The page's declared language (<html lang="es-ES"> is "es")."""
    declared = (tree.get("lang") or tree.get("xml:lang") or "").strip()
    return declared.split("-")[0].split("_")[0].lower() or None


def _html_tree(html: str) -> Any:
    """The page as an lxml tree; None when nothing can be parsed."""
    import lxml.etree
    import lxml.html

    try:
        return lxml.html.document_fromstring(
            html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8")
        )
    except (lxml.etree.ParserError, ValueError):
        return None
