"""Block Kit rendering: Slack's limits kept, and nothing from an article or a question can ping
or format a link."""

from __future__ import annotations

import json

from rag.apps import slack_blocks as sb
from rag.present import AnswerView, ConflictValue, PassageView, Segment, SourceView


def _source(n: int, quote: str, title: str = "Alibaba orders chips") -> SourceView:
    article = f"Intro.\n\n{quote}\n\nMore."
    start = article.index(quote)
    return SourceView(n, f"doc{n}", title, "Reuters", "2025-12-09", "en", quote, start,
                      start + len(quote), quote, (0, len(quote)), article)  # fmt: skip


def _view(**overrides: object) -> AnswerView:
    base = dict(
        answer="Answer: 200,000 [1]. Alibaba wants 200,000 H200 chips [1].",
        direct="Answer: 200,000 [1].",
        segments=(Segment("Answer: 200,000 [1].", (1,), True),
                  Segment("Alibaba wants 200,000 H200 chips [1].", (1,), True)),
        sources=(_source(1, "Alibaba wants 200,000 H200 chips."),),
        abstained=False, question_lang="en", answerer="extractive", conflicts=(), warnings=(),
        notes=(), notice="", confidence=None,
    )  # fmt: skip
    base.update(overrides)
    return AnswerView(**base)  # type: ignore[arg-type]


def test_escape_defuses_markup_and_broadcasts() -> None:
    text = "<!channel> <!here> <@U123> <https://evil|click> a & b @here @Everyone"
    out = sb.escape(text)
    assert "<" not in out and ">" not in out
    assert "&lt;!channel&gt;" in out and "a &amp; b" in out
    assert "@here" not in out and "@Everyone" not in out and "@\u2060here" in out


def test_plain_text_reads_what_a_user_typed() -> None:
    typed = "<@UBOT> how &amp; why &lt;3 <@U9|ana> in <#C1|general> <https://x.y|link> <!here>"
    assert sb.plain_text(typed, drop_user="UBOT") == "how & why <3 @ana in #general link @here"
    assert sb.plain_text("<!subteam^S1|@editors> <mailto:a@b.c>") == "@editors mailto:a@b.c"


def test_answer_blocks_hold_the_answer_the_sources_and_the_buttons() -> None:
    blocks = sb.answer_blocks(_view(), feedback="key1")
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text":
                         "Answer: 200,000 [1]. Alibaba wants 200,000 H200 chips [1]."}}  # fmt: skip
    source = next(b for b in blocks if b["type"] == "context")["elements"][0]["text"]
    assert (
        source
        == "*[1] Alibaba orders chips* — Reuters · 2025-12-09 · en\n>Alibaba wants 200,000 H200 chips."
    )
    actions = blocks[-1]
    assert [e["action_id"] for e in actions["elements"]] == [sb.FEEDBACK_UP, sb.FEEDBACK_DOWN]
    assert {e["value"] for e in actions["elements"]} == {"key1"}


def test_markings_match_the_web_page() -> None:
    view = _view(
        segments=(Segment("Alibaba wants 200,000 chips [1].", (1,), True),
                  Segment("It will pay 9 billion.", (), False)),
        warnings=("figure not found in the cited source: 9 billion",),
        notice="The LLM failed (timeout); the extractive answerer answered instead.",
        conflict_table=((ConflictValue("200,000", 1, "doc1", "A", "2025-12-09"),
                         ConflictValue("400,000", 2, "doc2", "B", None)),),
        confidence=0.71,
    )  # fmt: skip
    blocks = sb.answer_blocks(view)
    text = json.dumps(blocks, ensure_ascii=False)
    assert blocks[0]["type"] == "context" and "The LLM failed" in text
    assert "⚠️ _It will pay 9 billion._ (no valid citation)" in text
    assert "*The sources differ:*" in text and "400,000 — [2] B, undated" in text
    assert "*Not verified:* figure not found" in text and "confidence 0.71" in text
    assert not any(b["type"] == "actions" for b in blocks)  # no buttons without a key


def test_an_abstention_shows_the_closest_passages() -> None:
    view = _view(answer="The articles don't say.", segments=(), sources=(), abstained=True,
                 considered=(PassageView("doc1", "T <!here>", None, "de", "x " * 400, 0.5),))  # fmt: skip
    blocks = sb.answer_blocks(view)
    text = json.dumps(blocks, ensure_ascii=False)
    assert blocks[0]["text"]["text"] == "The articles don't say."
    assert "Closest passages" in text and "<!here>" not in text
    assert all(
        len(b["elements"][0]["text"]) <= sb.CONTEXT_CHARS for b in blocks if b["type"] == "context"
    )


def test_long_answers_stay_within_slacks_limits() -> None:
    long = " ".join(["Alibaba wants 200,000 H200 chips [1]."] * 300)  # ~11,000 characters
    sources = tuple(_source(n, "A quote. " * 200) for n in range(1, 61))
    view = _view(answer=long, segments=(Segment(long, (1,), True),), sources=sources)
    blocks = sb.answer_blocks(view, feedback="k")
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == 4 and all(len(b["text"]["text"]) <= sb.SECTION_CHARS for b in sections)
    assert "".join(b["text"]["text"] for b in sections).replace(" ", "") == long.replace(" ", "")
    messages = sb.messages(blocks)
    assert len(messages) == 2 and all(len(m) <= sb.MAX_BLOCKS for m in messages)
    assert messages[-1][-1]["type"] == "actions"
    assert len(sb.fallback_text(view)) <= sb.TEXT_CHARS
