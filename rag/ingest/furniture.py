"""Page furniture out of a news page's main text, around the main-text extractor.

trafilatura finds the article's region well, but whatever sits inside that region comes with
it: the kicker and byline above the headline, image captions and photo credits between
paragraphs, "Anzeige" and "Read more" labels inside the body, a paywall box, a poll, a
donation appeal, a press release's "About the company" and media-contact trailer. On an old
table layout without <p> elements it falls back to the whole page. On hand-written pages
(`rag eval-extraction`) a quarter to two fifths of what it returned was such furniture. Two
passes, before and after it:

- `clean_markup` drops elements whose tag, ARIA role or class/id words name them as furniture
  (`figcaption`, `role="navigation"`, `class="muro-pago"`, `class="img-desc"`), blocks that are
  mostly link text (menus, "other stories" lists), boxes whose heading names them ("Poll",
  "Comments (2)", "Lo más leído"), and a press release's trailer from its "About …" or "Media
  contact" heading on. An element holding a large share of the page's prose is never dropped,
  whatever its name, so a mis-named article wrapper survives.
- `article_blocks` keeps, from what the extractor returns, the blocks that read as article
  prose: they end as a sentence ends and have a few words. Labels, bylines, datelines, reading
  times, captions ending in a credit ("Foto: IMAGO / X", "（摄影：刘洋）"), score lines and
  addresses do not. Prose that is still furniture is recognised by what it says: a contact (an
  e-mail address or a telephone number), a copyright or disclaimer line, a paywall's sales
  line, and a site talking about itself (comment and app prompts, syndication notices, reader
  call-outs and questions, appeals for money, a block opening with the outlet's own name). A
  heading is kept only when article prose follows it; a list only when an article sentence
  introduces it or its items are sentences themselves (a live ticker).

What no rule here can see: a full sentence of furniture inside the story's own container that
names neither itself nor the site, under a meaningless class name. On page sets it had not seen,
7–12 % of the output's sentences were furniture (the sets' READMEs).
"""

from __future__ import annotations

import re
from typing import Any

# Tags that never hold the article's own sentences.
FURNITURE_TAGS = frozenset({
    "nav", "aside", "footer", "header", "form", "button", "select", "figure", "figcaption",
    "noscript", "iframe", "dialog", "amp-sidebar", "amp-ad", "amp-sticky-ad", "amp-consent",
})  # fmt: skip
FURNITURE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search",
                             "dialog", "alertdialog", "menu", "menubar", "toolbar"})  # fmt: skip

# Class and id words (whole words of a class name split on "-", "_" and case) that name page
# furniture, in the languages of the seeds, and the starts of longer ones.
FURNITURE_WORDS = frozenset({
    # navigation, chrome
    "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "masthead", "sidebar",
    "toolbar", "utility", "footer", "header", "topbar", "skip", "logo",
    # ads, promotion
    "ad", "ads", "adv", "advert", "advertisement", "adslot", "dfp", "sponsor", "sponsored",
    "promo", "promoted", "outbrain", "taboola", "anzeige", "werbung", "publicidad", "pub",
    "publicite", "guanggao", "patrocinado", "sponsorise",
    # sharing, comments, related
    "share", "sharing", "social", "teilen", "compartir", "partage", "partager", "fenxiang",
    "comment", "comments", "kommentar", "kommentare", "comentarios", "commentaires", "pinglun",
    "reply", "related", "relacionadas", "relacionados", "recommended", "recirc", "readmore",
    "more", "trending", "popular", "mostread", "xiangguan", "tuijian", "aussi", "teaser",
    # sign-ups and paywalls
    "newsletter", "signup", "subscribe", "subscription", "paywall", "regwall", "meter",
    "premium", "abo", "muro", "mur", "pago", "suscripcion", "login",
    # consent, overlays
    "cookie", "cookies", "consent", "gdpr", "banner", "modal", "popup", "overlay",
    # bylines, credits, captions, images
    "byline", "author", "autor", "auteur", "bio", "dateline", "timestamp", "meta", "kicker",
    "eyebrow", "caption", "credit", "credits", "photo", "photos", "foto", "fotos", "pic", "pics",
    "img", "image", "images", "picture", "gallery", "bildunterschrift", "legende", "leyenda",
    "pie", "editor", "zebian",
    # notes, embeds, trailers, widgets
    "embed", "einbettung", "hinweis", "notice", "disclaimer", "note", "contact", "kontakt",
    "contacto", "about", "boilerplate", "quelle", "print", "poll", "weather",
    "podcast", "video", "tags", "tag", "topics", "keywords", "widget",
    # polls, newsletters, apps, appeals (es boletín/encuesta, fr sondage, de Umfrage/Spenden)
    "survey", "encuesta", "sondage", "umfrage", "boletin", "app", "apps", "download",
    "donate", "donation", "spenden",
})  # fmt: skip
FURNITURE_PREFIXES = ("subscri", "suscri", "abonn", "newsletter", "advert", "sponsor", "promo",
                      "comment", "komment", "coment", "share", "social", "related", "relacion",
                      "recommend", "breadcrumb", "cookie", "consent", "caption", "paywall",
                      "byline", "sidebar", "footer", "banner", "widget", "werbung", "anzeige",
                      "publicid", "bildunter", "einbett", "author", "autor")  # fmt: skip

# An element holding more than this share of the page's prose is the article, whatever its name.
ARTICLE_SHARE = 0.4
# A trailer heading ("About …") counts only after this share of the page's prose.
TRAILER_AFTER = 0.5
# A block at least this much link text is a list of links (menu, "other stories").
LINK_SHARE = 0.6

_TERMINAL = ".!?…。！？"
_CLOSERS = "\"'”’“‘»«」』›‹)"  # “ closes a German quotation („…“)
_CJK = "\u3040-\u30ff\u3400-\u9fff"
_WORD = re.compile(rf"[{_CJK}]|[^\W\d_{_CJK}]{{2,}}")  # a CJK character counts as a word
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(
    r"\+\d{1,3}[\s\d().-]{7,}\d|\b(?:Tel|Tél|Phone|Telefon|Teléfono|电话)\b|"
    r"\b(?:call|ring|llame|llamar|appelez|anrufen)\s+(?:us\s+)?(?:on\s+)?\(?0\d", re.I,
)  # fmt: skip
_COPYRIGHT = re.compile(
    r"©|\(c\)\s*\d{4}|all rights reserved|alle rechte vorbehalten|tous droits réservés|"
    r"todos los derechos reservados|版权所有|版权声明|免责声明|^声明[:：]|^disclaimer\b|"
    r"^haftungsausschluss|"
    r"^aviso legal|^avertissement", re.I,
)  # fmt: skip
# What only a site says about itself: comment prompts, app prompts, hit counters.
_SITE_TALK = re.compile(
    r"\bno comments\b|be the first to comment|comments are closed|download (?:our|the) app|"
    r"\bvisitor number\b|best viewed (?:at|with|in)|noch keine kommentare|"
    r"sé el primero en comentar|no hay comentarios|aucun commentaire|soyez le premier à|"
    r"暂无评论|下载.{0,16}(?:客户端|app)|"
    # syndication notices
    r"first (?:appeared|published) (?:in|on|by)\b|erschien zuerst|zuerst erschienen|"
    r"publicad[oa] originalmente|apareci[óo] originalmente|paru (?:initialement|d'abord)|"
    r"publié initialement|首发于|原载于|转载自|"
    # reader call-outs and tip lines
    r"send us your (?:photos|videos|stories|tips)|share your (?:story|photos|experience)|"
    r"\bget in touch with (?:us|our)|\bcontact (?:us|our newsroom)|have a (?:news )?tip\b|"
    r"escr[ií]b(?:enos|ir a nuestra redacci[óo]n)|schreiben sie (?:uns|der redaktion)|"
    r"écrivez[- ]nous|contactez la rédaction|欢迎爆料|联系我们|"
    # appeals for money
    r"consider supporting us|support (?:us|our (?:work|journalism)|independent (?:journalism|"
    r"reporting))\b|make a (?:donation|contribution)|apóyanos|apoya (?:nuestro|el) periodismo|"
    r"unterstützen sie (?:uns|unseren journalismus)|soutenez[- ](?:nous|notre)|faites un don|"
    r"支持我们|please consider (?:making|supporting|a (?:donation|contribution))|"
    r"costs money to produce|"
    # the newsroom about its own work, newsletters, counters
    r"\bour (?:live )?coverage\b.{0,80}\b(?:has|have) (?:now )?(?:ended|closed)|"
    r"\bhas no (?:say|influence) over what we|part of our .{0,60}series|"
    r"\b(?:email|write to|contact) our news ?(?:desk|room)|escribiendo a nuestra redacción|"
    r"en écrivant à la rédaction|schreiben sie (?:uns|der redaktion)|"
    r"本报将持续关注|新闻热线|提供线索|tell us (?:your|how|what|about)|"
    r"cuéntanos|racontez[- ]nous|erzählen sie uns|(?:sign up|subscribe) (?:to|for) our|"
    r"suscr[ií]bete a nuestr|abonnez-vous à notre|has been viewed [\d,.]+ times|"
    r"se public[óo] originalmente|vous est offert par", re.I,
)  # fmt: skip
# A question put to the reader ("Are you affected …?", "¿Eres docente …?", "Vous habitez … ?").
_READER_QUESTION = re.compile(
    r"^¿?(?:are you|do you|have you|did you|were you|eres|tienes|vives|has |sind sie|haben sie|"
    r"wohnen sie|kennen sie|vous (?:habitez|êtes|avez)|êtes-vous|avez-vous|您是否|你是否)"
    r".*[?？]$", re.I,
)  # fmt: skip
# Headings of boxes that are never the story: a poll, comments, related or most-read lists.
_BOX_HEADING = re.compile(
    r"^(?:polls?|survey|quiz|comments?|reader comments|join the conversation|related(?: \w+)?|"
    r"read more|more (?:from|on)\b.*|most (?:read|popular|viewed)|trending|editor'?s picks|"
    r"encuesta|sondeo|comentarios|lo más leído|más noticias|umfrage|kommentare|meistgelesen|"
    r"mehr zum thema|sondage|commentaires|les plus lus|à lire aussi|lire aussi|"
    r"投票|评论|网友评论|相关阅读|相关新闻|热门文章|热门推荐)\s*(?:\(\d+\))?\s*:?$", re.I,
)  # fmt: skip
# Containers a box heading's box can be.
_BOX_TAGS = ("div", "section", "aside", "table", "ul", "ol", "form", "footer", "details")
# A paywall's sales lines (short blocks only: "Netflix gained 9 million subscribers." is news).
_PAYWALL = re.compile(
    r"\bsubscribe\b|already a subscriber|subscribers? only|for subscribers|\bsign in\b|"
    r"\blog in\b|suscr[ií]bete|suscribirse|ya eres suscriptor|abonnez|réservé aux abonnés|"
    r"déjà abonné|abonnieren|\babo\b|jetzt lesen|订阅|会员|il vous reste \d+|left to read|"
    r"remaining of this article|te queda un \d+|free articles?|articles gratuits|"
    r"artículos gratuitos|kostenlose artikel", re.I,
)  # fmt: skip
_TRAILER = re.compile(
    r"^(?:about|über|uber|acerca de|sobre|à propos de?|a propos de?|关于)\s+\S|"
    r"^(?:forward[- ]looking statements?|safe harbou?r|cautionary (?:note|statement)|"
    r"media contacts?|press contacts?|investor contacts?|contacts?|pressekontakt|kontakt|"
    r"(?:wissenschaftliche\s+)?ansprechpartner(?:in|innen)?|originalpublikation|"
    r"original (?:publication|paper|study)|publicación original|publication originale|"
    r"contacto(?: de prensa)?|contact(?:s)? (?:presse|médias?)|媒体联系|新闻联系|联系方式|###)",
    re.I,
)  # fmt: skip


def clean_markup(tree: Any) -> Any:
    """The page (an lxml tree) with its named furniture, its link lists and a press release's
    trailer taken out."""
    prose = _prose_chars(tree)
    for element in list(tree.iter()):
        if not isinstance(element.tag, str) or element.getparent() is None:
            continue
        if _is_furniture(element) and _prose_chars(element) <= ARTICLE_SHARE * prose:
            element.drop_tree()
    for heading in _box_headings(tree):
        box = next((a for a in heading.iterancestors(*_BOX_TAGS)), None)
        if box is None or box.getparent() is None:
            continue
        if _prose_chars(box) <= ARTICLE_SHARE * prose:
            box.drop_tree()
    for heading in _trailer_headings(tree, prose):
        if heading.getparent() is None:
            continue  # went with an earlier trailer heading
        for after in list(heading.itersiblings()):
            after.drop_tree()
        heading.drop_tree()
    return tree


def _box_headings(tree: Any) -> list[Any]:
    """Headings that name a box that is never the story ("Poll", "Comments (2)", "Lo más
    leído"): their box goes, unless it holds much of the page's prose."""
    return [
        element for element in tree.iter("h2", "h3", "h4", "h5", "h6", "b", "strong", "p", "span")
        if _BOX_HEADING.match(" ".join("".join(element.itertext()).split()))
    ]  # fmt: skip


def _trailer_headings(tree: Any, prose: int) -> list[Any]:
    """Headings of a press release's trailer ("About …", "Media contact", "Originalpublikation")
    found after most of the page's prose: they and what follows them in their section go."""
    found, seen = [], 0
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        text = " ".join("".join(element.itertext()).split())
        if tag == "p" and is_prose(text):
            seen += len(text)
        elif (tag in ("h2", "h3", "h4", "h5", "h6", "p", "b", "strong", "dt")
              and len(text) <= 60 and _TRAILER.match(text) and not is_prose(text)
              and seen >= TRAILER_AFTER * prose):  # fmt: skip
            found.append(element)
    return found


def _is_furniture(element: Any) -> bool:
    tag = element.tag.lower()
    if tag in FURNITURE_TAGS or (element.get("role") or "").lower() in FURNITURE_ROLES:
        return True
    if tag == "body" or tag == "html":
        return False
    return _named_furniture(element) or _mostly_links(element)


def _named_furniture(element: Any) -> bool:
    names = f"{element.get('class') or ''} {element.get('id') or ''}"
    words = re.split(r"[\s_\-]+|(?<=[a-z])(?=[A-Z])", names)
    for word in (w.lower() for w in words if w):
        if word in FURNITURE_WORDS or word.startswith(FURNITURE_PREFIXES):
            return True
    return False


def _mostly_links(element: Any) -> bool:
    if element.tag.lower() not in ("div", "td", "ul", "ol", "section", "table", "p", "li"):
        return False
    text = _text_length(element)
    if text == 0:
        return False
    links = sum(_text_length(a) for a in element.iter("a"))
    return links >= LINK_SHARE * text


def _text_length(element: Any) -> int:
    """Characters of visible text, spaces left out (markup indentation would dilute links)."""
    return sum(len(part) for part in "".join(element.itertext()).split())


def _prose_chars(element: Any) -> int:
    """Characters of sentence-like text in <p> elements (and the element itself, if a <p>)."""
    total = 0
    for p in element.iter("p"):
        text = " ".join("".join(p.itertext()).split())
        if is_prose(text):
            total += len(text)
    return total


def is_prose(text: str) -> bool:
    """Does the block read as article prose: a few words, and it ends as a sentence ends?"""
    body = text.rstrip().rstrip(_CLOSERS).rstrip()
    if not body or body[-1] not in _TERMINAL:
        return False
    if text.rstrip().endswith(")") and not text.lstrip().startswith("("):
        return False  # "… (Gazette photo)", "（图片来源：视觉影像）": a caption's credit
    return len(_WORD.findall(text)) >= 3


def article_blocks(body: Any, title: str | None, outlet: str | None = None) -> list[str]:
    """The extractor's output (its XML body) as paragraphs of the article's own text; a block
    that starts with the outlet's own name is the site talking about itself ("The Ledger is
    owned by a trust …"), not the story."""
    units = list(_units(body))
    own_name = _without_article(outlet or "")
    kept: list[str] = []
    listing = False  # inside a list that an article sentence introduced ("… three items:")
    for i, (kind, text) in enumerate(units):
        if _TRAILER.match(text) and not is_prose(text) and i >= len(units) * 0.4:
            break  # a press release's "About …", "Media contact" trailer: the rest is too
        if kind == "head":
            keep = not _is_headline(text, title) and _prose_follows(units, i)
        elif kind == "item":
            keep = (listing or is_prose(text)) and not _furniture_prose(text)
        else:
            listing = _introduces_list(units, i)
            keep = (listing or is_prose(text)) and not _furniture_prose(text)
            keep = keep and not (len(own_name) >= 4 and _without_article(text).startswith(own_name))
        if keep:
            kept.append(text)
    return kept


def _without_article(text: str) -> str:
    """Case-folded, without a leading article ("The Ledger" and "Ledger" are one name)."""
    return re.sub(
        r"^(?:the|el|la|los|las|le|les|l'|l’|die|der|das)\s*", "", text.casefold().strip()
    )


def _introduces_list(units: list[tuple[str, str]], index: int) -> bool:
    text = units[index][1]
    following = units[index + 1][0] if index + 1 < len(units) else ""
    return following == "item" and text.endswith(":") and len(_WORD.findall(text)) >= 3


def _is_headline(text: str, title: str | None) -> bool:
    """The page's own headline ("Title", or inside "Title | Site"): it is the title already."""
    return bool(title) and text.casefold() in " ".join((title or "").split()).casefold()


def _prose_follows(units: list[tuple[str, str]], index: int) -> bool:
    for kind, text in units[index + 1 :]:
        if kind == "head":
            return False
        if is_prose(text) and not _furniture_prose(text):
            return True
    return False


def _furniture_prose(text: str) -> bool:
    return bool(_EMAIL.search(text) or _PHONE.search(text) or _COPYRIGHT.search(text)
                or _SITE_TALK.search(text) or _READER_QUESTION.match(text)
                or text.startswith("SOURCE ")  # a wire press release's last line
                or (_PAYWALL.search(text) and len(_WORD.findall(text)) <= 30))  # fmt: skip


def _units(body: Any) -> Any:
    """(kind, text) for each block: "head", "item" (of a list) or "p"; a block's lines are
    split where the page broke them, and joined again where a <br> fell inside a sentence."""
    for element in body:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "list":
            for item in element.iter("item"):
                yield from (("item", line) for line in _lines(item))
        else:
            kind = "head" if tag == "head" else "p"
            yield from ((kind, line) for line in _lines(element))


def _lines(element: Any) -> list[str]:
    raw = _with_breaks(element).split("\n")
    lines: list[str] = []
    for line in (" ".join(r.split()) for r in raw):
        if not line:
            continue
        if lines and _continues(lines[-1], line):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
    return lines


_BLOCKS = frozenset({"p", "div", "li", "ul", "ol", "tr", "table", "section", "article", "h1",
                     "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "dl", "dt", "dd"})  # fmt: skip


def _with_breaks(element: Any) -> str:
    """The element's text with a line break for each <br> (<lb/> in trafilatura's output) and
    around each block element."""
    parts = [element.text or ""]
    for child in element:
        tag = child.tag.lower() if isinstance(child.tag, str) else ""
        if tag in ("lb", "br"):
            parts.append("\n")
        elif tag in _BLOCKS:
            parts.append(f"\n{_with_breaks(child)}\n")
        elif tag:
            parts.append(_with_breaks(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _continues(previous: str, line: str) -> bool:
    """A <br> inside a sentence: the line before stops on a comma, or it stops mid-sentence
    (a long line with no full stop) and this one starts in lower case or with a quotation."""
    if previous[-1] in ",;，、":
        return True
    open_sentence = previous[-1] not in _TERMINAL and len(_WORD.findall(previous)) >= 8
    return open_sentence and (line[0].islower() or line[0] in "“‘\"'«„(")


def visible_text(tree: Any) -> str:
    """Every line of text a reader would see on the page: the last resort when no block reads
    as article prose, so that a page is never read as empty while it has text."""
    for hidden in list(tree.iter("script", "style", "noscript", "template")):
        if hidden.getparent() is not None:
            hidden.drop_tree()
    body = tree.find("body")
    lines = (
        " ".join(line.split())
        for line in _with_breaks(body if body is not None else tree).split("\n")
    )
    return "\n".join(line for line in lines if line)
