"""What the console and the projector both draw of a lesson: the step's text, the live tally, the blind
comparison and its reveal.

Lesson text is the teacher's Markdown, drawn with `st.markdown` and never `unsafe_allow_html` (raw HTML in
a lesson shows as text); model output and students' free-text answers go into `st.text` or chart data,
never Markdown.
"""

from __future__ import annotations

import statistics

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.common import lang, tr
from shared.contract.records import Output
from shared.services.lessons import ClassLesson
from shared.teaching.lessons import Tally

SHOWN_TEXT_ANSWERS = 30  # the newest free-text answers the projector lists


def step_text(running: ClassLesson) -> None:
    """The step's Markdown; on the first step, the lesson's objectives under it."""
    st.markdown(running.step.text.get(lang()))
    if running.index == 0 and running.lesson.objectives:
        st.markdown(f"**{tr('lesson.objectives')}**\n\n" +
                    "\n".join(f"- {objective.get(lang())}" for objective in running.lesson.objectives))


def config_labels(running: ClassLesson) -> list[str]:
    task = running.step.task
    return task.config_labels() if task else []


def tally_view(running: ClassLesson, tally: Tally | None, big: bool = False) -> None:
    """The class's answers so far, as the question's kind reads best: bars, a spread, or the answers."""
    question = running.question
    if question is None or tally is None:
        return
    if not tally.answered:
        st.info(tr("lesson.no_answers"))
        return
    if question.kind == "choice":
        bars([o.get(lang()) for o in question.options], tally.counts, big)
    elif question.kind == "number":
        values = sorted(tally.values)
        shown = [f"{v:g}" for v in values]
        labels = list(dict.fromkeys(shown))
        bars(labels, [shown.count(label) for label in labels], big)
        st.text(tr("lesson.median", value=f"{statistics.median(values):g}", count=len(values)))
    elif question.kind == "text":
        for text in tally.texts[-SHOWN_TEXT_ANSWERS:]:
            st.text(f"• {text}")  # a student's words: text, never Markdown
    else:
        blind_tally(running, tally, big)


def bars(labels: list[str], counts: list[int], big: bool) -> None:
    frame = pd.DataFrame({"option": labels, "count": counts})
    size = 22 if big else 14
    chart = alt.Chart(frame).mark_bar(color="#1f77b4").encode(
        y=alt.Y("option:N", sort=labels, title=None, axis=alt.Axis(labelLimit=0)),
        x=alt.X("count:Q", title=tr("lesson.count"), axis=alt.Axis(tickMinStep=1)),
        tooltip=["option", "count"])
    labels_layer = chart.mark_text(align="left", dx=6, fontSize=size).encode(text="count:Q")
    st.altair_chart((chart + labels_layer).properties(height=alt.Step(56 if big else 34)).configure_axis(
        labelFontSize=size, titleFontSize=size), width="stretch")


def blind_tally(running: ClassLesson, tally: Tally, big: bool) -> None:
    """One row per text, its bar split by the configuration the class guessed; after the reveal each
    row's label says which configuration really made it."""
    labels = config_labels(running)
    truth = running.blind.truth if running.blind else ()
    rows = []
    for number, guesses in enumerate(tally.guesses):
        text = tr("lesson.text_n", number=number + 1)
        if running.revealed and number < len(truth):
            text += f" (✔ {labels[truth[number]]})"
        rows += [{"text": text, "guess": labels[i] if i < len(labels) else str(i), "count": count}
                 for i, count in enumerate(guesses) if count]
    if not rows:
        return
    size = 18 if big else 13
    chart = alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
        y=alt.Y("text:N", title=None, axis=alt.Axis(labelLimit=0)),
        x=alt.X("count:Q", title=tr("lesson.count"), axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("guess:N", sort=labels, title=None, legend=alt.Legend(orient="bottom", columns=1)),
        tooltip=["text", "guess", "count"])
    st.altair_chart(chart.properties(height=alt.Step(44 if big else 30)).configure_axis(
        labelFontSize=size, titleFontSize=size).configure_legend(labelFontSize=size, labelLimit=0), width="stretch")


def blind_texts(running: ClassLesson, outputs: list[Output], tally: Tally | None, side_by_side: bool = False) -> None:
    """The texts of the comparison, numbered (side by side on the projector); after the reveal each says
    which configuration made it and how many in the class guessed right."""
    labels = config_labels(running)
    truth = running.blind.truth if running.blind else ()
    prompts = list(dict.fromkeys(o.prompt for o in outputs))
    if len(prompts) == 1:
        st.text(tr("lesson.prompt_was", prompt=prompts[0]))
    holders = st.columns(len(outputs)) if side_by_side and outputs else [st.container() for _ in outputs]
    for number, (output, holder) in enumerate(zip(outputs, holders)):
        with holder, st.container(border=True):
            st.text(tr("lesson.text_n", number=number + 1))
            if running.revealed and number < len(truth):
                st.text(tr("lesson.made_by", config=labels[truth[number]]))
                if tally is not None and tally.correct:
                    st.text(tr("lesson.guessed", right=tally.correct[number], total=tally.answered))
            if len(prompts) > 1:
                st.text(tr("lesson.prompt_was", prompt=output.prompt))
            st.text(output.text or "∅")


def outputs_with_prompts(outputs: list[Output]) -> None:
    """Spotlighted (or the step's) outputs, each with its prompt and configuration, as text."""
    for output in outputs:
        with st.container(border=True):
            st.text(f"{output.student} · {output.label}")
            st.text(tr("lesson.prompt_was", prompt=output.prompt))
            st.text(output.text or "∅")
