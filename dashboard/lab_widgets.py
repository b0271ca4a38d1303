"""The decoding lab's richer views: metrics, token-by-token probabilities, the next-token explorer.

Model text always goes into `st.text` or dataframe cells (shown as text, never as Markdown/HTML).
"""

from __future__ import annotations

import time

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard.common import follow, follow_unconfirmed, lang, redis_tolerant, submit_press, tr
from shared.classes import Student
from shared.explorer import reshape, top_table
from shared.problems import Problem
from shared.submissions import build_explore_request

PROBABILITY = st.column_config.ProgressColumn  # shaded bars 0..1: the token view's "heat"
EXPLORER_BARS = 30  # the model's most likely next tokens shown as bars


def past_submissions(store, me: Student, lab: str, limit: int = 10) -> dict[str, str]:
    """The student's latest submissions to `lab`, newest first: readable label -> submission id."""
    found = {}
    for submission_id in store.student_submissions(me.code, me.id, limit=3 * limit):
        record = store.submission(submission_id)
        if record and record["request"]["lab"] == lab and len(found) < limit:
            when = time.strftime("%H:%M:%S", time.localtime(float(record["created_at"])))
            found[f"{when} · {record['request']['prompt'][:40]} · {record['status']}"] = submission_id
    return found


def metrics_line(output: dict) -> None:
    metrics = output.get("metrics")
    if not metrics:
        return
    values = {k: ("—" if v is None else v) for k, v in metrics.items()}
    values["loop"] = tr("metrics.yes") if metrics["loop"] else tr("metrics.no")
    st.text(tr("metrics.line", **values))


def token_view(store, output: dict) -> None:
    """Each generated token shaded by its probability; pick one to see its top-5 before/after."""
    details = store.token_details(output.get("details_id") or output["id"])
    if not details or not details["steps"]:
        return
    st.caption(tr("tokens.caption"))
    steps = details["steps"]
    table = pd.DataFrame({
        tr("col.token"): [visible(s["text"]) for s in steps],
        tr("col.p_model"): [float(np.exp(s["logprob"])) for s in steps],
        tr("col.p_sampled"): [s["p"] for s in steps],
    })
    probability = {name: PROBABILITY(name, min_value=0.0, max_value=1.0, format="%.3f")
                   for name in (tr("col.p_model"), tr("col.p_sampled"))}
    st.dataframe(table, column_config=probability, height=240)
    position = st.number_input(tr("tokens.pick"), min_value=1, max_value=len(steps), value=1,
                               key=f"pick-{output['id']}") - 1
    step = steps[position]
    before, after = st.columns(2)
    for column, title, rows in ((before, "tokens.before", step["model"]), (after, "tokens.after", step["sampled"])):
        column.text(tr(title))
        frame = pd.DataFrame([[visible(t), p] for t, p in rows], columns=[tr("col.token"), tr("col.p")])
        column.dataframe(frame, column_config={tr("col.p"): PROBABILITY(tr("col.p"), min_value=0.0, max_value=1.0,
                                                                       format="%.3f")}, hide_index=True)


def visible(piece: str) -> str:
    """Make a token's spaces and line breaks visible: ' the' -> '␣the'."""
    return piece.replace(" ", "␣").replace("\n", "⏎")


def theory_notes() -> None:
    with st.expander(tr("theory.header")):
        for knob in ("greedy", "temperature", "top_k", "top_p", "repetition_penalty", "seed"):
            st.text(tr(f"theory.{knob}"))


def explorer(store, settings, me: Student, model: str, prompt: str) -> None:
    st.subheader(tr("explorer.header"))
    st.caption(tr("explorer.intro"))
    if st.button(tr("explorer.compute"), key="explore"):
        submit_press(store, settings, "explore_id", lambda request_id: build_explore_request(
            settings, class_code=me.code, student=me.label, student_id=me.id, prompt=prompt, model=model,
            request_id=request_id))
    follow_unconfirmed(store)
    if st.session_state.get("explore_id"):
        explorer_view(store, settings, st.session_state.explore_id)


def explorer_view(store, settings, request_id: str) -> None:
    """Polls (with backoff) until the distribution is there; then the bars, redrawn as the sliders move."""
    view = follow(store, settings, request_id, lambda _: st.info(tr("explorer.waiting")))
    if view is None:
        return
    if view["status"] == "failed":
        st.error(tr("decoding.failed", reason=Problem.from_dict(view["error"]).message(lang())))
        return
    explorer_bars(store, request_id)


@st.fragment  # the sliders rerun only the bars, not the page
@redis_tolerant
def explorer_bars(store, request_id: str) -> None:
    raw, prompt_ids, texts = store.exploration(request_id)
    logits = np.frombuffer(raw, dtype=np.float32)
    left, right = st.columns(2)
    temperature = left.slider(tr("col.temperature"), 0.05, 3.0, 1.0, 0.05, help=tr("theory.temperature"))
    top_k = left.slider("top_k", 0, 200, 50, help=tr("theory.top_k"))
    top_p = right.slider(tr("col.top_p"), 0.05, 1.0, 1.0, 0.05, help=tr("theory.top_p"))
    penalty = right.slider(tr("col.repetition_penalty"), 1.0, 2.0, 1.1, 0.05, help=tr("theory.repetition_penalty"))
    shaped = reshape(logits, prompt_ids, temperature=temperature, top_k=top_k, top_p=top_p,
                     repetition_penalty_value=penalty)
    st.text(tr("explorer.stats", kept=int(shaped.kept.sum()), mass=round(100 * shaped.mass_kept, 1),
               entropy_model=round(shaped.entropy_model, 2), entropy=round(shaped.entropy, 2)))
    rows = top_table(shaped, lambda i: visible(texts.get(str(i), f"<{i}>")), count=EXPLORER_BARS)
    frame = pd.DataFrame(rows)
    frame["fate"] = np.where(frame["kept"], tr("explorer.kept"), tr("explorer.removed"))
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("token:N", sort=None, title=tr("col.token")), y=alt.Y("after:Q", title=tr("col.p_sampled")),
        color=alt.Color("fate:N", title=""), tooltip=["token", "model", "after", "fate"])
    ticks = alt.Chart(frame).mark_tick(color="black", thickness=2).encode(
        x=alt.X("token:N", sort=None), y=alt.Y("model:Q", title=tr("col.p_model")))
    st.altair_chart(bars + ticks, width="stretch")

