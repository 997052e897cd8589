"""Slack messages (Block Kit) rendered from the presentation model, and Slack's text read back.

Like the chat page, this composes nothing: which sentences, sources, conflicts and warnings to
show is decided in rag/present.py. Here they only become blocks within Slack's limits (a
section's text ≤ 3,000 characters, ≤ 50 blocks a message), and every piece of text that did
not come from us (articles, questions) is escaped so that it can neither format a link nor
ping anyone: `<!channel>` in an article arrives as the visible text "<!channel>".

Nothing here imports Slack's SDK, so the rendering is tested without it.
"""

from __future__ import annotations

import re
from typing import Any

from rag.present import UNTRUSTED_SOURCE, AnswerView, SourceView

SECTION_CHARS = 3000  # Slack's limit for a section's text
CONTEXT_CHARS = 2000  # kept under Slack's 3,000 for one context element
MAX_BLOCKS = 50  # Slack's limit per message
TEXT_CHARS = 3900  # the notification fallback: Slack advises under 4,000 characters
QUOTE_CHARS = 700  # a quoted sentence, in a source's context block
PASSAGE_CHARS = 300  # a passage shown after an abstention
FEEDBACK_UP = "feedback_up"
FEEDBACK_DOWN = "feedback_down"

Block = dict[str, Any]

# Plain @channel / @here / @everyone: a word joiner after "@" stops Slack from reading them as
# a broadcast even where a client would "link names".
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
# Slack's markup in what users type: <@U123>, <@U123|name>, <#C1|general>, <!here>,
# <!subteam^S1|@team>, <https://x.y|label>, <mailto:a@b.c>.
_MARKUP = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")


def escape(text: str) -> str:
    """Text that did not come from us, safe in any Slack text field: `&<>` escaped (so no
    `<!channel>`, `<@U…>` or link markup survives) and broadcast words defused."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u2060", text)


def plain_text(slack_text: str, drop_user: str | None = None) -> str:
    """What a user typed, as plain text: mentions of `drop_user` (the bot) removed, other
    markup replaced by its label, entities unescaped."""

    def label(match: re.Match[str]) -> str:
        sigil, target, name = match.group(1), match.group(2), match.group(3)
        if sigil == "@":
            return "" if target == drop_user else f"@{(name or target).lstrip('@')}"
        if sigil == "#":
            return f"#{name or target}"
        if sigil == "!":
            return f"@{(name or target.split('^')[0]).lstrip('@')}"
        return name or target

    text = _MARKUP.sub(label, slack_text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


# ------------------------------------------------------------------ blocks


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def sections(text: str) -> list[Block]:
    """`text` as mrkdwn sections of at most SECTION_CHARS, cut between lines or words."""
    return [{"type": "section", "text": _mrkdwn(part)} for part in _cut(text, SECTION_CHARS)]


def context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(shorten(text, CONTEXT_CHARS))]}


def _cut(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at the last newline or space before it."""
    parts = []
    while len(text) > limit:
        at = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        at = at if at > limit // 2 else limit
        parts.append(text[:at].rstrip())
        text = text[at:].lstrip()
    return [*parts, text] if text else parts


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def answer_mrkdwn(view: AnswerView) -> str:
    """The answer text: each sentence with its [n]; a sentence no valid citation supports is
    marked, as on the web page."""
    if view.abstained or not view.segments:
        return escape(view.answer)
    parts = []
    for segment in view.segments:
        text = escape(segment.text)
        parts.append(text if segment.supported else f"⚠️ _{text}_ (no valid citation)")
    return " ".join(parts)


def source_mrkdwn(source: SourceView) -> str:
    """`[n] Title — outlet · by author · date · lang` and the quoted sentence."""
    updated = (f"updated {source.updated}",) if source.updated else ()
    byline = (f"by {source.author}",) if source.author else ()
    meta = " · ".join((source.outlet or "unknown outlet", *byline, source.date or "undated",
                       *updated, source.lang))  # fmt: skip
    quote = shorten(" ".join(source.quote.split()), QUOTE_CHARS)
    flag = f"⚠️ _{UNTRUSTED_SOURCE}_ · " if source.untrusted else ""
    title = escape(source.title)
    if source.url and re.match(r"https?://[^\s<>|]+$", source.url):
        title = f"<{source.url}|{title}>"
    also = f"\n_also published at_ {escape(', '.join(source.also_at))}" if source.also_at else ""
    return f"*[{source.n}] {title}* — {flag}{escape(meta)}{also}\n>{escape(quote)}"


def conflict_mrkdwn(view: AnswerView) -> str:
    lines = ["*The sources differ:*"]
    for values in view.conflict_table:
        lines += [
            f"• {escape(v.text)} — [{v.n}] {escape(v.title)}, {escape(v.date or 'undated')}"
            + (" _(minority: one source)_" if v.minority else "")
            for v in values
        ]
    return "\n".join(lines)


def feedback_actions(value: str) -> Block:
    """👍 / 👎 buttons; `value` tells the click handler which answer they rate."""

    def button(action_id: str, label: str) -> Block:
        text = {"type": "plain_text", "text": label, "emoji": True}
        return {"type": "button", "action_id": action_id, "text": text, "value": value}

    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [button(FEEDBACK_UP, "👍 Useful"), button(FEEDBACK_DOWN, "👎 Wrong")],
    }


def answer_blocks(
    view: AnswerView, feedback: str | None = None, understood: str = ""
) -> list[Block]:
    """The whole reply: notice, the question as understood (a follow-up), the answer,
    conflicts, what was not verified, the sources, the closest passages after an abstention,
    confidence, and the feedback buttons."""
    blocks: list[Block] = []
    if view.notice:
        blocks.append(context(f"⚠️ {escape(view.notice)}"))
    if understood:
        blocks.append(context(f"_Understood as:_ {escape(understood)}"))
    blocks += sections(answer_mrkdwn(view))
    if view.conflict_table:
        blocks += sections(conflict_mrkdwn(view))
    blocks += [context(f"⚠️ *Not verified:* {escape(w)}") for w in view.warnings]
    if view.sources:
        blocks.append({"type": "divider"})
        blocks += [context(source_mrkdwn(s)) for s in view.sources]
    if view.considered:
        blocks.append(context("*Closest passages* (not good enough to answer from):"))
        blocks += [
            context(
                f"{escape(p.title)} · {escape(p.date or 'undated')} · {p.lang}\n"
                f">{escape(shorten(p.text, PASSAGE_CHARS))}"
            )
            for p in view.considered
        ]
    if view.confidence is not None:
        blocks.append(context(f"confidence {view.confidence:.2f} · answered by {view.answerer}"))
    if feedback is not None:
        blocks.append(feedback_actions(feedback))
    return blocks


def messages(blocks: list[Block]) -> list[list[Block]]:
    """The blocks cut into messages of at most MAX_BLOCKS; the feedback buttons stay last."""
    return [blocks[i : i + MAX_BLOCKS] for i in range(0, len(blocks), MAX_BLOCKS)] or [[]]


def fallback_text(view: AnswerView) -> str:
    """The message's plain `text`: what notifications and screen readers show."""
    lines = [escape(view.notice)] if view.notice else []
    lines.append(escape(view.answer))
    for s in view.sources:
        meta = ", ".join(x for x in (s.outlet, s.date or "undated", s.lang) if x)
        lines.append(f"[{s.n}] {escape(s.title)} ({escape(meta)})")
    return shorten("\n".join(lines), TEXT_CHARS)
