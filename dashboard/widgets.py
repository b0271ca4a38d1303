"""Small rendering pieces the pages share. Model output and names are always shown as plain text."""

from __future__ import annotations

import html
import math
import time

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.common import lang, tr
from dashboard.lab_widgets import metrics_line, plain
from shared.contract.decoding import GREEDY, config_summary
from shared.contract.problems import Problem
from shared.contract.records import (
    CANCELLED,
    CHECKING,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    Item,
    Output,
    PartialText,
    Progress,
)
from shared.services.gallery import diff_pieces
from shared.services.moderation import Note

COLLAPSED_LINES = 6     # a long output shows its first lines; the rest is one click away ("show all")
COLLAPSED_CHARS = 480   # ... or its first characters, when the model wrote few line breaks
PROMPT_CHARS = 90       # a card's prompt, shortened to one line; the whole of it one click away
CURSOR = "▍"            # ends the text of a generation still being written (block elements: every font has it)
STREAM_COLUMNS = 3      # streamed cards side by side, as the finished results are


def output_card(output: Output, show_student: bool = False, note: Note | None = None, metrics: bool = False,
                collapse: bool = False, own: bool = False):
    """One generated text in a bordered card: config and seed on top, the text, its facts, the
    instructor's marks (`note`, from shared/moderation.annotations; `own`: shown to its author, so a
    hidden one says the instructor hid it from the class). Never rendered as Markdown or HTML.
    Returns the card, so a page can add its own controls inside it (`with card: ...`)."""
    card = st.container(border=True)
    with card:
        st.text(card_header(output))
        who = [seed_text(output)]
        if show_student:
            who += [output.student, time.strftime("%H:%M:%S", time.localtime(output.finished_at))]
        st.text(" · ".join(who))
        prompt_line(output.prompt, expandable=True)
        output_text(output.text, output.id, collapse)
        reason = tr(f"decoding.reason.{output.finish_reason}")
        st.text(tr("card.meta", tokens=output.new_tokens, reason=reason))
        if metrics:
            metrics_line(output)
        if output.provenance.random_weights:
            st.text("⚠ " + tr("app.random_weights"))
        if output.provenance.demo_model:
            st.text("ℹ " + tr("app.demo_model"))
        if note:
            note_marks(note, own)
    return card


def seed_text(output: Output) -> str:
    """The seed this output's student asked for; greedy draws nothing, so the seed changes nothing there
    (and a cached greedy answer may come from another student's seed: the card says what this one sent)."""
    if output.effective_config.strategy == GREEDY:
        return tr("card.seed_greedy", seed=output.seed)
    return tr("common.seed", seed=output.seed)


def shortened(text: str, limit: int) -> str:
    one_line = " ".join(plain(text).split())
    return one_line if len(one_line) <= limit else one_line[:limit - 1].rstrip() + "…"


def prompt_line(prompt: str, expandable: bool = False) -> None:
    """The prompt the continuation follows, on one line and labelled (never mistaken for the model's
    text); a long one shortened, with the whole of it in an expander when `expandable`."""
    short = shortened(prompt, PROMPT_CHARS)
    st.text(tr("card.prompt", prompt=short))
    if expandable and short != " ".join(plain(prompt).split()):
        with st.expander(tr("card.prompt_all")):
            st.text(plain(prompt))


def card_header(output: Output) -> str:
    """'variant · config · model': the config as config_summary says it, in the reader's language."""
    parts = [output.variant] if output.variant else []
    return " · ".join(parts + [config_summary(output.effective_config.to_dict(), lang()), output.model])


def output_text(text: str, key: str, collapse: bool) -> None:
    """The model's text as text (`plain`); when `collapse`, a long one shows its start and "show all"."""
    text = plain(text) or "∅"
    lines = text.splitlines()
    if not collapse or (len(lines) <= COLLAPSED_LINES and len(text) <= COLLAPSED_CHARS):
        st.text(text)
        return
    start = "\n".join(lines[:COLLAPSED_LINES])[:COLLAPSED_CHARS]
    st.text(start.rstrip() + " …")
    with st.expander(tr("card.show_all", chars=len(text))):
        st.text(text)


def note_marks(note: Note, own: bool = False) -> None:
    """The instructor's star, hidden flag and comment, inside the card they are about."""
    if note.starred:
        st.text(tr("gallery.starred_mark"))
    if note.hidden:
        st.text(tr("card.hidden_own") if own else tr("gallery.hidden_mark"))
    if note.comment:
        st.text(tr("gallery.comment_mark", comment=note.comment))


def queue_message(view: Progress) -> str:
    """The queued banner's words. A job a worker has just taken (no place in the queue any more, not yet
    marked running) is starting: never "position ? of ?"."""
    if not view.position or not view.depth:
        return tr("decoding.starting")
    where = {"position": view.position, "depth": view.depth}
    if view.wait_seconds is not None:
        return tr("decoding.queued_wait", seconds=max(1, round(view.wait_seconds)), **where)
    return tr("decoding.queued", **where)


def progress_banner(view: Progress) -> bool:
    """Queue position and estimated wait, tokens done, the failure's reason or a cancel; True once done."""
    if view.status == QUEUED:
        st.info(queue_message(view))
        if view.attempts:
            st.warning(tr("decoding.retrying", attempt=view.attempts + 1))
    elif view.status == RUNNING:
        st.progress(min(1.0, view.done / max(1, view.total)),
                    text=tr("decoding.running", done=view.done, total=view.total))
    elif view.status == CHECKING:
        st.progress(1.0, text=tr("decoding.checking", total=view.total))
    elif view.status == FAILED:
        error = view.error or Problem("worker_error", detail="?")
        st.error(tr("decoding.failed", reason=error.message(lang())))
    elif view.status == CANCELLED:
        st.info(tr("decoding.cancelled"))
    return view.status == DONE


def live_banner(view: Progress) -> bool:
    """progress_banner, then each generation's text as it is being written (while running or checking)."""
    done = progress_banner(view)
    if view.status in (RUNNING, CHECKING) and view.request is not None:
        streaming_cards(view.request.items, {p.index: p for p in view.partial}, view.request.model)
    return done


def streaming_cards(items: tuple[Item, ...], partial: dict[int, PartialText], model: str) -> None:
    """One card per generation, in the results' layout: what it runs, its prompt, its text so far ending
    in a cursor, or (finished) its whole text, marked done, while the others still run."""
    for start in range(0, len(items), STREAM_COLUMNS):
        for column, (index, item) in zip(st.columns(STREAM_COLUMNS), enumerate(items[start:start + STREAM_COLUMNS],
                                                                                 start=start)):
            with column, st.container(border=True):
                streaming_card(item, partial.get(index, PartialText(index, "", 0)), model)


def streaming_card(item: Item, text: PartialText, model: str) -> None:
    header = [item.variant] if item.variant else []
    st.text(" · ".join(header + [config_summary(item.config.effective().to_dict(), lang()), model]))
    prompt_line(item.prompt)
    shown = plain(text.text)
    if len(shown) > COLLAPSED_CHARS:  # a long one shows its newest words: the end is where it grows
        shown = "… " + shown[-COLLAPSED_CHARS:]
    if text.done:
        st.text(shown or "∅")
        st.text(tr("stream.done", tokens=text.tokens))
    else:
        st.text(f"{shown} {CURSOR}" if shown else CURSOR)
        st.text(tr("stream.writing", tokens=text.tokens))


DIFF_STYLE = {  # projector-readable: large type; colour and a strike / underline, so it survives grey scale
    "same": "",
    "removed": "background:#ffd7d5;color:#82071e;text-decoration:line-through;",
    "added": "background:#ccffd8;color:#055d20;text-decoration:underline;",
}


def diff_html(left: str, right: str) -> str:
    """The word diff of two outputs, coloured. Model text is escaped piece by piece (html.escape), so
    an output containing markup is shown as the characters it is, never run as HTML."""
    spans = [f'<span style="{DIFF_STYLE[kind]}">{html.escape(words)}</span>' if DIFF_STYLE[kind]
             else html.escape(words) for kind, words in diff_pieces(plain(left or ""), plain(right or ""))]
    return ('<div style="font-size:1.35rem;line-height:1.6;white-space:pre-wrap;font-family:sans-serif;">'
            + " ".join(spans) + "</div>")


def readable_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Empty cells as "—", not "None" or "nan". A column with a gap becomes text (numbers as "0.25"), since a
    column mixing numbers and text cannot be shown; full columns keep their numbers."""
    gaps = [column for column in frame.columns if frame[column].isna().any()]
    return frame.assign(**{column: frame[column].map(cell_text) for column in gaps})


def cell_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def pass_rate_chart(frame: pd.DataFrame, variants: list[str] | None = None) -> alt.LayerChart:
    """The instruction pass rate by variant: a check per row (its name read level, never dropped for lack
    of room), a variant per column (in `variants` order), each cell coloured and labelled with its rate.
    `frame`: variant, check (its readable name), rate (0..1) and, if known, outputs."""
    frame = frame.assign(label=frame["rate"].map(lambda r: f"{round(100 * r)}%"))
    tooltip = [alt.Tooltip("variant:N", title=tr("col.variant")), alt.Tooltip("check:N", title=tr("col.check")),
               alt.Tooltip("rate:Q", title=tr("col.rate"), format=".0%")]
    if "outputs" in frame:
        tooltip.append(alt.Tooltip("outputs:Q", title=tr("col.count")))
    base = alt.Chart(frame).encode(
        x=alt.X("variant:N", sort=variants, title=tr("col.variant"),
                axis=alt.Axis(labelAngle=-30, labelLimit=0, labelOverlap=False)),
        y=alt.Y("check:N", title=tr("col.check"), axis=alt.Axis(labelLimit=0, labelOverlap=False)))
    cells = base.mark_rect().encode(
        color=alt.Color("rate:Q", scale=alt.Scale(domain=[0, 1]), title=tr("col.rate")), tooltip=tooltip)
    labels = base.mark_text(fontSize=16).encode(
        text="label:N", color=alt.condition("datum.rate > 0.5", alt.value("white"), alt.value("black")))
    return (cells + labels).properties(height=alt.Step(40))
