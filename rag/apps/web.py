"""The chat page (Gradio 6): asks stream into the chat, and an evidence panel shows where every
claim comes from, highlighted in the original article.

The page renders the presentation model (rag/present.py) and composes nothing: which
sentences, which sources, which conflicts and warnings are all decided there. This module only
turns the view into HTML and wires the controls. `create_app()` builds the page; `main()`
launches it on 127.0.0.1 unless told otherwise, never with a public share link.
"""

from __future__ import annotations

import argparse
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.answers import Answer
from rag.apps.backend import ANY, Ask, ChatBackend
from rag.config import Settings
from rag.conversation import resolve_follow_up
from rag.errors import InputError, RagError
from rag.ingest.corpus import ARTICLE_SUFFIXES
from rag.library import AddReport
from rag.present import UNTRUSTED_SOURCE, AnswerView, ConflictValue, SourceView

EXAMPLES = [
    "How many Nvidia chips are Alibaba and ByteDance ready to order?",
    "¿Cuánto invertirá Alibaba en IA en tres años?",
    "Wie stark stieg die Alibaba-Aktie in Hongkong?",
    "美国将从H200芯片出口中收取多少分成？",
]
WORKING = "_Searching the articles…_"
CONTEXT_CHARS = 160  # of the surrounding paragraph, each side of the quote, in text renderings
_CITE = re.compile(r"\[(\d+)\]")

# System fonts only: the default theme would fetch Google Fonts, and the page must work offline.
_FONTS = ["system-ui", "Noto Sans", "Noto Sans CJK SC", "sans-serif"]
CSS = """
.evidence section.source { border-left: 3px solid #d0d7de; padding: 0 0 0 .75em; margin: 0 0 1em 0; }
.evidence section.source.flash { border-left-color: #e3b341; background: #fff8c5; }
.evidence .meta { color: #57606a; font-size: .85em; }
.evidence .untrusted { color: #9a3412; font-weight: 600; }
.evidence mark { background: #fff3a3; padding: 0 .1em; }
.evidence .article { max-height: 22em; overflow: auto; white-space: pre-wrap; font-size: .9em; }
.evidence table.conflicts td, .evidence table.conflicts th { padding: .15em .6em; }
.unsupported { text-decoration: underline wavy #cf222e; }
"""
# Clicking [n] in an answer brings source n into view; opening an article scrolls to its span.
JS = """
() => {
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest('a[href^="#src-"]');
    if (!a) return;
    ev.preventDefault(); ev.stopPropagation();
    const el = document.getElementById(a.getAttribute('href').slice(1));
    if (!el) return;
    el.scrollIntoView({block: 'center'});
    el.classList.add('flash');
    setTimeout(() => el.classList.remove('flash'), 1600);
  }, true);
  document.addEventListener('toggle', (ev) => {
    const d = ev.target;
    if (d.tagName === 'DETAILS' && d.open) {
      const m = d.querySelector('mark');
      if (m) m.scrollIntoView({block: 'center'});
    }
  }, true);
}
"""


# ------------------------------------------------------------------ rendering the view


def _escape(text: str) -> str:
    """Text shown as itself in HTML or Markdown: article text is untrusted, and neither its
    tags (`<img onerror=…>`) nor its Markdown links (`[click](javascript:…)`) may come alive.
    Brackets become character references, which Markdown never reads as link syntax. (It is
    never put inside an attribute, so quotes stay as they are.)"""
    return html.escape(text, quote=False).replace("[", "&#91;").replace("]", "&#93;")


def _linked(text: str) -> str:
    """Escaped text whose [n] marks (ours: article text has none left, see neutralise_marks)
    link to source n in the evidence panel."""
    parts = _CITE.split(text)  # text, number, text, number, ..., text
    return "".join(
        _escape(part) if i % 2 == 0 else f'<a href="#src-{part}" class="cite">[{part}]</a>'
        for i, part in enumerate(parts)
    )


def answer_markdown(view: AnswerView, understood: str = "") -> str:
    """The chat message: a notice if a fallback answered, the question as understood when it
    was a follow-up, then the answer with linked citations and unsupported sentences marked."""
    lines = [f"⚠️ {_escape(view.notice)}", ""] if view.notice else []
    if understood:
        lines += [f"*Understood as: {_escape(understood)}*", ""]
    if view.abstained or not view.segments:
        lines.append(_escape(view.answer))
    else:
        parts = []
        for segment in view.segments:
            text = _linked(segment.text)
            if not segment.supported:
                text = f'<span class="unsupported" title="no valid citation">⚠️ {text}</span>'
            parts.append(text)
        lines.append(" ".join(parts))
    if view.confidence is not None:
        lines += ["", f"<small>confidence {view.confidence:.2f}</small>"]
    return "\n".join(lines)


def evidence_html(view: AnswerView) -> str:
    """The evidence panel: conflicts as a table, what was not verified, each source with its
    quote marked inside its paragraph and the whole article a click away; after an abstention,
    the closest passages that were not good enough."""
    parts = ['<div class="evidence">']
    if view.conflict_table:
        rows = "".join(
            f"<tr><td>{_escape(v.text)}</td><td>[{v.n}] {_escape(v.title)}</td>"
            f"<td>{_escape(v.date or 'undated')}</td><td>{_backing(v)}</td></tr>"
            for values in view.conflict_table
            for v in values
        )
        parts.append(
            "<h4>The sources differ</h4><table class='conflicts'><tr><th>value</th>"
            f"<th>source</th><th>date</th><th>sources</th></tr>{rows}</table>"
        )
    if view.warnings:
        items = "".join(f"<li>⚠️ {_escape(w)}</li>" for w in view.warnings)
        parts.append(f"<h4>Not verified</h4><ul class='warnings'>{items}</ul>")
    parts += [_source_html(s) for s in view.sources]
    if view.considered:
        parts.append("<h4>Closest passages (not good enough to answer from)</h4>")
        parts += [
            f"<section class='considered'><div class='meta'>{_escape(p.title)} · {_escape(p.lang)}"
            f" · {_escape(p.date or 'undated')} · <code>{_escape(p.doc_id)}</code></div>"
            f"<p>{_escape(p.text[:400])}{'…' if len(p.text) > 400 else ''}</p></section>"
            for p in view.considered
        ]
    if len(parts) == 1:
        parts.append("<p class='meta'>Sources appear here with each answer.</p>")
    parts.append("</div>")
    return "".join(parts)


def _linked_title(s: SourceView) -> str:
    """The source's title, a link to where it was published when that is a web address."""
    title = _escape(s.title)
    if s.url and re.match(r"https?://", s.url):
        return f"<a href='{html.escape(s.url, quote=True)}' target='_blank' rel='noopener noreferrer'>{title}</a>"
    return title


def _byline(s: SourceView) -> str:
    return f"by {s.author}" if s.author else ""


def _updated(s: SourceView) -> str:
    return f"updated {s.updated}" if s.updated else ""


def _also_at(s: SourceView) -> str:
    """Where syndicated copies of the source were published (stored once)."""
    if not s.also_at:
        return ""
    places = ", ".join(_escape(place) for place in s.also_at)
    return f"<div class='meta'>also published at: {places}</div>"


def _backing(v: ConflictValue) -> str:
    return "minority (one source)" if v.minority else f"{v.sources}"


def _source_html(s: SourceView) -> str:
    a, b = s.highlight
    before, after = ("… " if s.clipped[0] else ""), (" …" if s.clipped[1] else "")
    paragraph = (
        f"{before}{_escape(s.paragraph[:a])}<mark>{_escape(s.paragraph[a:b])}</mark>"
        f"{_escape(s.paragraph[b:])}{after}"
    )
    article = (
        f"{_escape(s.article[: s.start])}<mark>{_escape(s.article[s.start : s.end])}</mark>"
        f"{_escape(s.article[s.end :])}"
    )
    meta = (
        " · ".join(
            _escape(x)
            for x in (s.outlet or "", _byline(s), s.date or "undated", _updated(s), s.lang)
            if x
        )
        + f" · <code>{_escape(s.doc_id)}</code>"
    )
    if s.untrusted:
        meta = f"<span class='untrusted'>⚠️ {UNTRUSTED_SOURCE}</span> · {meta}"
    return (
        f"<section class='source' id='src-{s.n}'><h4>[{s.n}] {_linked_title(s)}</h4>"
        f"<div class='meta'>{meta} · characters {s.start}–{s.end}</div>{_also_at(s)}"
        f"<p class='paragraph'>{paragraph}</p>"
        f"<details><summary>Open the whole article</summary>"
        f"<div class='article'>{article}</div></details></section>"
    )


def answerer_choices(backend: ChatBackend) -> list[tuple[str, str]]:
    """The answerer dropdown: each registered answerer, the LLM named with where it runs."""
    llm = backend.settings.llm
    where = llm.where if llm.base_url else "api.openai.com"
    return [
        ("extractive (offline, quotes the articles)", "extractive"),
        (f"LLM: {llm.model} at {where}", "openai"),
    ]


def respond(backend: ChatBackend, message: str) -> Iterator[str]:
    """Text only (the `/chat` API and simple clients): progress, then the cited answer."""
    yield WORKING
    try:
        for event in backend.ask_stream(message):
            if isinstance(event, Answer):
                yield render_text(backend.view(event))
                return
    except RagError as err:
        yield f"⚠️ {err}"


def render_text(view: AnswerView) -> str:
    """Plain text for API clients: the answer, then each source with its quote."""
    lines = [f"⚠️ {view.notice}", ""] if view.notice else []
    lines.append(view.answer)
    for s in view.sources:
        lines.append(f"[{s.n}] {s.title} ({s.doc_id}, {s.lang}, {s.date or 'undated'}): {s.quote}")
    lines += [f"! {w}" for w in view.warnings]
    return "\n".join(lines)


# ------------------------------------------------------------------ the page


def chat_turn(
    backend: ChatBackend,
    message: str,
    history: list[dict[str, Any]],
    asked: list[str],
    ask: Ask,
) -> Iterator[tuple[list[dict[str, Any]], str, list[str], dict[str, Any] | None]]:
    """One turn: the question (read with the previous one if it is a follow-up) streams into
    the chat, then the cited answer and its evidence replace the preview."""
    understood = resolve_follow_up(message, asked[-1] if asked else None)
    shown = understood if understood != message else ""
    history = [*history, {"role": "user", "content": message}]
    reply = {"role": "assistant", "content": WORKING}
    yield [*history, reply], evidence_html_placeholder(), asked, None
    try:
        partial = ""
        for event in backend.ask_stream(understood, ask):
            if isinstance(event, Answer):
                view = backend.view(event)
                reply = {"role": "assistant", "content": answer_markdown(view, shown)}
                record = {"question": understood, "answer": event.to_dict()}
                yield [*history, reply], evidence_html(view), [*asked, understood], record
                return
            partial += event
            reply = {"role": "assistant", "content": _escape(partial) + " …"}
            yield [*history, reply], evidence_html_placeholder(), asked, None
    except RagError as err:
        reply = {"role": "assistant", "content": f"⚠️ {_escape(str(err))}"}
        yield [*history, reply], evidence_html_placeholder(), asked, None


def evidence_html_placeholder() -> str:
    return "<div class='evidence'><p class='meta'>Sources appear here with each answer.</p></div>"


def create_app(backend: ChatBackend) -> Any:
    """The page, not launched: tests and deployments launch it their own way."""
    import gradio as gr

    articles = backend.articles()
    with gr.Blocks(title="News Q&A with citations", analytics_enabled=False) as app:
        gr.Markdown(
            "## News Q&A with citations\nAsk in any language. Every claim cites the exact "
            "sentence it comes from; when the articles do not say, the page says so."
        )
        asked = gr.State([])
        last = gr.State(None)
        with gr.Tab("Ask"), gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=480, elem_id="chat")
                question = gr.Textbox(
                    label="Question", placeholder="Ask about the articles…", elem_id="question"
                )
                with gr.Row():
                    send = gr.Button("Ask", variant="primary", elem_id="ask")
                    clear = gr.Button("New conversation")
                gr.Examples(EXAMPLES, inputs=question)
                with gr.Row():
                    up = gr.Button("👍 Useful", size="sm", elem_id="feedback-up")
                    down = gr.Button("👎 Wrong or unhelpful", size="sm", elem_id="feedback-down")
                    comment = gr.Textbox(label="Comment on the last answer (optional)", scale=3)
                feedback_status = gr.Markdown()
                with gr.Accordion("Controls", open=False):
                    answerer = gr.Dropdown(
                        answerer_choices(backend), value=backend.answerer_name,
                        label="Answerer", elem_id="answerer",
                    )  # fmt: skip
                    sources = gr.Slider(
                        1, 12, value=backend.settings.retrieval.answer_context_chunks, step=1,
                        label="Sources given to the answerer",
                    )  # fmt: skip
                    lang = gr.Dropdown(
                        language_choices(backend), value=ANY, label="Article language",
                        elem_id="lang-filter",
                    )  # fmt: skip
                    with gr.Row():
                        since = gr.Textbox(label="From (YYYY-MM-DD)")
                        until = gr.Textbox(label="Until (YYYY-MM-DD)")
                    docs = gr.Dropdown(
                        article_choices(articles), multiselect=True,
                        label="Only these articles", elem_id="articles-filter",
                    )  # fmt: skip
            with gr.Column(scale=2):
                evidence = gr.HTML(evidence_html_placeholder(), elem_id="evidence")

        def turn(
            message: str,
            history: list[dict[str, Any]],
            asked_so_far: list[str],
            answerer_name: str | None,
            n_sources: float | None,
            language: str | None,
            date_from: str | None,
            date_to: str | None,
            doc_ids: list[str] | None,
        ) -> Iterator[tuple[Any, ...]]:
            # Controls inside the closed accordion were never rendered, and the browser sends
            # None for them until it is opened: read None as the control's default.
            ask = Ask(answerer_name or "", int(n_sources or 0), language or ANY,
                      date_from or "", date_to or "", tuple(doc_ids or ()))  # fmt: skip
            for history_now, panel, asked_now, record in chat_turn(
                backend, message, history or [], asked_so_far or [], ask
            ):
                yield history_now, panel, asked_now, record, ""

        inputs = [question, chat, asked, answerer, sources, lang, since, until, docs]
        outputs = [chat, evidence, asked, last, question]
        send.click(turn, inputs, outputs, api_visibility="private")
        question.submit(turn, inputs, outputs, api_visibility="private")
        clear.click(
            lambda: ([], evidence_html_placeholder(), [], None),
            None,
            [chat, evidence, asked, last],
            api_visibility="private",
        )

        def rate(record: dict[str, Any] | None, verdict: str, note: str) -> tuple[str, str]:
            try:
                backend.feedback(record, verdict, note)
            except RagError as err:
                return f"⚠️ {err}", note
            return "Thank you: the verdict is stored with the question and its answer.", ""

        up.click(lambda r, n: rate(r, "up", n), [last, comment], [feedback_status, comment],
                 api_visibility="private")  # fmt: skip
        down.click(lambda r, n: rate(r, "down", n), [last, comment], [feedback_status, comment],
                   api_visibility="private")  # fmt: skip
        _articles_tab(app, backend, articles, lang, docs)

        def chat_api(message: str) -> str:
            """The cited answer as plain text."""
            *_, final = respond(backend, message)
            return final

        def ask_api(question: str, answerer: str = "", sources: int = 0) -> dict[str, Any]:
            """The full answer, the same JSON as `rag ask --json`."""
            try:
                return backend.ask_json(question, answerer, int(sources))
            except RagError as err:
                return {"error": str(err)}

        def feedback_api(
            question: str, answer: dict[str, Any], verdict: str, comment: str = ""
        ) -> str:
            """Store a verdict ("up" or "down") on an answer from /ask."""
            try:
                n = backend.feedback({"question": question, "answer": answer}, verdict, comment)
            except RagError as err:
                return f"error: {err}"
            return f"stored #{n}"

        gr.api(chat_api, api_name="chat")
        gr.api(ask_api, api_name="ask")
        gr.api(feedback_api, api_name="feedback")
    app.queue(default_concurrency_limit=4)
    return app


ARTICLE_COLUMNS = ["doc_id", "trust", "title", "outlet", "date", "lang", "chunks", "url"]


def _article_rows(articles: list[dict[str, Any]]) -> list[list[Any]]:
    return [[row.get(c) or "" for c in ARTICLE_COLUMNS] for row in articles]


def add_report_markdown(report: AddReport) -> str:
    lines = []
    for label, ids in (("added", report.added), ("updated", report.updated),
                       ("unchanged", report.unchanged)):  # fmt: skip
        if ids:
            lines.append(f"**{label}**: {_escape(', '.join(ids))}")
    lines += [f"read as {enc}: {_escape(name)}" for name, enc in report.encodings.items()]
    lines += [f"⚠️ **rejected** {_escape(name)}: {_escape(why)}" for name, why in report.rejected]
    return "  \n".join(lines) or "Nothing to add."


def language_choices(backend: ChatBackend) -> list[str]:
    """The article-language filter's choices: any, then the index's languages now."""
    return [ANY, *backend.current().index.langs]


def article_choices(articles: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The article filter's choices, (label, id), from `ChatBackend.articles()`."""
    return [(f"{a['doc_id']}: {str(a.get('title') or '')[:60]}", a["doc_id"])
            for a in articles]  # fmt: skip


def _articles_tab(
    app: Any,
    backend: ChatBackend,
    articles: list[dict[str, Any]],
    lang_filter: Any,
    docs_filter: Any,
) -> None:
    """List, add and remove articles; questions keep their old index until the new one is
    complete. The lists (and the Ask tab's filters) are read again on every page load, so a
    reader sees what another process (`rag ingest`, a second page) added or removed."""
    import gradio as gr

    rows = _article_rows(articles)  # as the page is built; each load reads them again
    with gr.Tab("Articles"):
        table = gr.Dataframe(
            rows, headers=ARTICLE_COLUMNS, interactive=False,
            label="Indexed articles",
        )  # fmt: skip
        files = gr.File(
            file_count="multiple", file_types=list(ARTICLE_SUFFIXES),
            label="Add articles (.txt .md .html .json .jsonl .pdf .docx)",
        )  # fmt: skip
        add = gr.Button("Add to the index", variant="primary")
        with gr.Row():
            address = gr.Textbox(label="Add from URL (a page or a feed; feeds are followed)",
                                 placeholder="https://…", scale=3, elem_id="add-url")  # fmt: skip
            fetch = gr.Button("Fetch and follow", scale=1, elem_id="fetch-url")
        watched = gr.Dataframe(
            _watched_rows(backend.watched()), headers=WATCHED_COLUMNS, interactive=False,
            label="Watched sources", elem_id="watched",
        )  # fmt: skip
        with gr.Row():
            doomed = gr.Dropdown([r[0] for r in rows], label="Remove an article", scale=3)
            remove = gr.Button("Remove", variant="stop")
        status = gr.Markdown()

        def refreshed() -> tuple[Any, Any, Any, Any]:
            articles = backend.articles()  # listed once for the table and both filters
            rows = _article_rows(articles)
            return (
                rows,
                gr.update(choices=[r[0] for r in rows], value=None),
                gr.update(choices=language_choices(backend)),
                gr.update(choices=article_choices(articles)),
            )

        def add_uploads(
            uploaded: list[Any] | None,
            progress: Any = gr.Progress(),  # noqa: B008 (Gradio injects its progress bar here)
        ) -> tuple[Any, ...]:
            if not uploaded:
                return ("Choose files first.", *refreshed())
            paths = [Path(f if isinstance(f, str) else f.name) for f in uploaded]
            names = {p: _original_name(p) for p in paths}
            try:
                report = backend.add_articles(
                    paths, names, lambda share, message: progress(share, desc=message)
                )
            except RagError as err:
                return (f"⚠️ {err}", *refreshed())
            return (add_report_markdown(report), *refreshed())

        def add_address(
            url: str,
            progress: Any = gr.Progress(),  # noqa: B008 (Gradio injects its progress bar here)
        ) -> tuple[Any, ...]:
            if not url.strip():
                return ("Give a web address first.", *refreshed(), _watched_rows(backend.watched()))
            try:
                report = backend.add_url(url, lambda share, message: progress(share, desc=message))
            except RagError as err:
                return (f"⚠️ {err}", *refreshed(), _watched_rows(backend.watched()))
            return (add_report_markdown(report), *refreshed(), _watched_rows(backend.watched()))

        def remove_one(doc_id: str | None) -> tuple[Any, ...]:
            if not doc_id:
                return ("Choose an article to remove.", *refreshed())
            try:
                backend.remove_article(doc_id)
            except RagError as err:
                return (f"⚠️ {err}", *refreshed())
            return (f"Removed {doc_id}.", *refreshed())

        outputs = [status, table, doomed, lang_filter, docs_filter]
        add.click(add_uploads, files, outputs, api_name="upload")
        remove.click(remove_one, doomed, outputs, api_name="remove")
        fetch.click(add_address, address, [*outputs, watched], api_name="add_url")
        app.load(refreshed, None, outputs[1:], api_visibility="private")


WATCHED_COLUMNS = ["url", "status", "last seen", "errors", "next poll", "last error"]


def _watched_rows(sources: list[dict[str, Any]]) -> list[list[Any]]:
    return [[row.get(c, "") for c in WATCHED_COLUMNS] for row in sources]


def _original_name(path: Path) -> str:
    """Gradio keeps an upload's own name as the last part of its temporary path."""
    return path.name


def theme() -> Any:
    import gradio as gr

    return gr.themes.Default(font=_FONTS, font_mono=["ui-monospace", "monospace"])


def launch(app: Any, host: str, port: int, auth: tuple[str, str] | None = None, **kw: Any) -> Any:
    """Serve on `host` (127.0.0.1 by default), never through a public share link, with a
    sweeper that frees finished sessions (Gradio keeps them: see rag/apps/sessions.py)."""
    from rag.apps.sessions import sweeping_lifespan

    app_kwargs = {**kw.pop("app_kwargs", {}), "lifespan": sweeping_lifespan(app)}
    return app.launch(
        server_name=host, server_port=port, share=False, auth=auth, theme=theme(), css=CSS,
        js=JS, footer_links=["api"], app_kwargs=app_kwargs, **kw,
    )  # fmt: skip


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise InputError("--auth takes user:password (or set RAG_WEB_AUTH)")
    return user, password


def main(argv: list[str] | None = None) -> None:
    from rag.config import apply_offline_defaults

    apply_offline_defaults()
    try:
        settings = Settings.from_env()
    except RagError as err:
        raise SystemExit(f"ui: error: {err}") from None
    parser = argparse.ArgumentParser(description="Serve the chat page.")
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine)")
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--llm", default=None, help="extractive or openai")
    parser.add_argument("--auth", default=settings.web_auth, help="user:password")
    args = parser.parse_args(argv)
    backend = ChatBackend(args.index, args.llm, settings)
    try:
        auth = parse_auth(args.auth)
        app = create_app(backend)  # builds or loads the index first: the first answer is fast
    except RagError as err:
        raise SystemExit(f"ui: error: {err}") from None
    launch(app, args.host, args.port, auth, state_session_capacity=settings.web_sessions)
