"""The decoding lab's richer views: metrics, token-by-token probabilities, the next-token explorer.

Model text always goes into `st.text` or dataframe cells (shown as text, never as Markdown/HTML).
"""

from __future__ import annotations

import time

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard.common import lang, redis_tolerant, tr
from dashboard.state import History, Slot, Work
from dashboard.submit import follow, follow_unconfirmed, submit_press
from shared.contract.problems import Problem
from shared.contract.records import FAILED, Output, Request
from shared.services.classes import Student
from shared.services.validation import build_explore_request
from shared.teaching.explorer import reshape, top_table

PROBABILITY = st.column_config.ProgressColumn  # shaded bars 0..1: the token view's "heat"
EXPLORER_BARS = 30  # the model's most likely next tokens shown as bars


def past_submissions(store, me: Student, lab: str, limit: int = 10) -> dict[str, str]:
    """The student's latest submissions to `lab`, newest first: readable label -> submission id. A label
    tells sweeps apart (what varied, how many outputs) and says the status in the student's language.
    A finished submission's label never changes: it is read from Redis once per session (and language),
    so a page run reads only the list and the submissions still pending."""
    known = History.LABELS.get_or({})
    History.LABELS.set(known)
    found = {}
    for submission_id in store.student_submissions(me.code, me.id, limit=3 * limit):
        if len(found) >= limit:
            break
        kept = known.get(submission_id)
        if kept is None or not kept[3] or (kept[0] == lab and kept[1] != lang()):
            record = store.submission(submission_id)
            if record is None:
                continue
            when = time.strftime("%H:%M:%S", time.localtime(record.created_at))
            label = " · ".join([when, submission_summary(record.request), tr(f"status.{record.status}")])
            kept = known[submission_id] = (record.request.lab, lang(), label, not record.active)
        if kept[0] == lab:
            found[unique_label(kept[2], found)] = submission_id
    return found


def unique_label(label: str, taken: dict) -> str:
    """Two runs pressed within the same second read alike: the older one gets a number."""
    numbered, count = label, 2
    while numbered in taken:
        numbered, count = f"{label} ({count})", count + 1
    return numbered


def history_picker(store, me: Student, lab: str, following: Slot[str]) -> None:
    """"My earlier submissions": always showing the submission the page shows (`following`, a new run
    included); picking another shows it at once."""
    history = past_submissions(store, me, lab)
    if len(history) < 2:
        return
    shown = next((label for label, submission_id in history.items() if submission_id == following.get()), None)
    if shown is not None:
        History.PICKER.set(shown)  # set before the widget is drawn: it follows the page

    def pick() -> None:
        picked = history.get(History.PICKER.get_or(""), following.get())
        if picked is not None:
            following.set(picked)

    st.selectbox(tr("decoding.history"), list(history), key=History.PICKER.key, on_change=pick)


def submission_summary(request: Request) -> str:
    """What a submission ran, in a few words: '3 × greedy / T 0.7 / T 1.5 · seed 42'."""
    items = request.items
    configs = list(dict.fromkeys(item.label for item in items))
    seeds = sorted({item.seed for item in items})
    shown = " / ".join(configs[:3]) + (" …" if len(configs) > 3 else "")
    seed_text = tr("common.seed", seed=seeds[0]) if len(seeds) == 1 else tr("history.seeds", count=len(seeds))
    return f"{len(items)} × {shown} · {seed_text}"


def metrics_line(output: Output) -> None:
    metrics = output.metrics
    if not metrics:
        return
    values = {k: ("—" if v is None else v) for k, v in metrics.items()}
    values["loop"] = tr("metrics.yes") if metrics["loop"] else tr("metrics.no")
    st.text(tr("metrics.line", **values))


def token_view(store, output: Output) -> None:
    """Each generated token shaded by its probability; pick one to see its top-5 before/after. Sized for a
    one-third-width card: narrow columns, the two top-5 tables one under the other."""
    details = store.token_details(output.details_id or output.id)
    if not details or not details.steps:
        return
    st.caption(tr("tokens.caption"))
    steps = details.steps
    p_model, p_sampled = tr("col.p_model"), tr("col.p_sampled")
    table = pd.DataFrame({
        tr("col.token"): [visible(s.text) for s in steps],
        p_model: [float(np.exp(s.logprob)) for s in steps],
        p_sampled: [s.p for s in steps],
    }, index=pd.RangeIndex(1, len(steps) + 1, name=tr("tokens.number")))  # counts from 1, as the picker
    if table[p_sampled].isna().all():  # not recorded (an output from before the token view): no empty column
        table = table.drop(columns=[p_sampled])
    columns = {name: st.column_config.NumberColumn(name, format=PROBABILITY_FORMAT, width=width)
               for name, width in ((p_model, P_MODEL_PX), (p_sampled, P_SAMPLED_PX))}
    columns[tr("col.token")] = st.column_config.TextColumn(tr("col.token"), width=TOKEN_PX)
    st.dataframe(table.style.map(heat, subset=[c for c in (p_model, p_sampled) if c in table]),
                 column_config=columns, height=240)
    position = st.number_input(tr("tokens.pick"), min_value=1, max_value=len(steps), value=1,
                               key=f"pick-{output.id}") - 1
    step = steps[position]
    for title, rows in (("tokens.before", step.model), ("tokens.after", step.sampled)):
        st.text(tr(title))
        frame = pd.DataFrame([[visible(t), p] for t, p in rows], columns=[tr("col.token"), tr("col.p")])
        st.dataframe(frame, hide_index=True, width="stretch", column_config={
            tr("col.p"): PROBABILITY(tr("col.p"), min_value=0.0, max_value=1.0, format=PROBABILITY_FORMAT)})


PROBABILITY_FORMAT = "%.2g"  # two significant digits: 0.000038 stays 0.000038, never 0.000
# Four columns (n.º, token, p model, p sampled) within a one-third-width card of a 1400-px screen.
TOKEN_PX, P_MODEL_PX, P_SAMPLED_PX = 70, 64, 72


def heat(p) -> str:
    """The cell's shade: darker for a likelier token (the token view's "heat")."""
    if p is None or p != p:  # no probability recorded (NaN)
        return ""
    return f"background-color: rgba(31, 119, 180, {0.05 + 0.55 * float(p):.2f})"


# Characters a model's text may hold that a screen cannot show honestly: control characters (a
# terminal's escapes, a bell, a carriage return) and the bidirectional overrides and isolates, which
# reorder whatever follows them on the projected page. Each is shown as "�"; line breaks and tabs stay.
_HIDDEN_CODES = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
                 *range(0x2066, 0x206A)]
UNSHOWABLE = {code: "\ufffd" for code in _HIDDEN_CODES if chr(code) not in "\n\t"}


def plain(text: str) -> str:
    """A model's text as a screen shows it: its control and bidirectional characters as "�" (what is
    stored, exported and measured stays the text itself)."""
    return text.translate(UNSHOWABLE)


def visible(piece: str) -> str:
    """Make a token's spaces and line breaks visible: ' the' -> '␣the'; unshowable characters as "�"."""
    return plain(piece.replace(" ", "␣").replace("\n", "⏎"))


def theory_notes() -> None:
    with st.expander(tr("theory.header")):
        for knob in ("greedy", "temperature", "top_k", "top_p", "repetition_penalty", "seed"):
            st.text(tr(f"theory.{knob}"))


def explorer(store, settings, me: Student, model: str, prompt: str) -> None:
    st.subheader(tr("explorer.header"))
    st.caption(tr("explorer.intro"))
    if st.button(tr("explorer.compute"), key="explore"):
        submit_press(store, settings, Work.EXPLORER, lambda request_id: build_explore_request(
            settings, class_code=me.code, student=me.label, student_id=me.id, prompt=prompt, model=model,
            request_id=request_id))
    follow_unconfirmed(store)
    following = Work.EXPLORER.get()
    if following:
        explorer_view(store, settings, following)


def explorer_view(store, settings, request_id: str) -> None:
    """Polls (with backoff) until the distribution is there; then the bars, redrawn as the sliders move."""
    view = follow(store, settings, request_id, lambda _: st.info(tr("explorer.waiting")))
    if view is None:
        return
    if view.status == FAILED:
        st.error(tr("decoding.failed", reason=(view.error or Problem("worker_error", detail="?")).message(lang())))
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
    left.caption(tr("explorer.top_k_zero"))
    top_p = right.slider(tr("col.top_p"), 0.05, 1.0, 1.0, 0.05, help=tr("theory.top_p"))
    penalty = right.slider(tr("col.repetition_penalty"), 1.0, 2.0, 1.1, 0.05, help=tr("theory.repetition_penalty"))
    shaped = reshape(logits, prompt_ids, temperature=temperature, top_k=top_k, top_p=top_p,
                     repetition_penalty_value=penalty)
    st.text(tr("explorer.stats", kept=int(shaped.kept.sum()), mass=round(100 * shaped.mass_kept, 1),
               entropy_model=round(shaped.entropy_model, 2), entropy=round(shaped.entropy, 2)))
    explorer_chart(top_table(shaped, lambda i: visible(texts.get(str(i), f"<{i}>")), count=EXPLORER_BARS))


KEPT_COLOUR, REMOVED_COLOUR, MODEL_COLOUR = "#1f77b4", "#c4c4c4", "#000000"


def explorer_chart(rows: list[dict]) -> None:
    """Bars: the probability each token would be sampled with; a token top-k/top-p removed keeps a grey
    bar at what it had before the cut (so the cut is seen, as in Transformer Explainer). Black ticks: the
    model's own probability. One legend names all three."""
    kept, removed, model = tr("explorer.kept"), tr("explorer.removed"), tr("explorer.model_tick")
    # Most likely first under the current settings (penalty and temperature applied, before the cut): the
    # tokens top-k / top-p remove are then the grey tail. The order is given as the list itself, since
    # Vega-Lite drops a sort by field on layers with different data and falls back to alphabetical.
    rows = sorted(rows, key=lambda r: -r["before_cut"])
    order = list(dict.fromkeys(r["token"] for r in rows))
    bars = pd.DataFrame([{"token": r["token"], "rank": n, "series": kept if r["kept"] else removed,
                          "p": r["after"] if r["kept"] else r["before_cut"]} for n, r in enumerate(rows)])
    ticks = pd.DataFrame([{"token": r["token"], "rank": n, "series": model, "p": r["model"]}
                          for n, r in enumerate(rows)])
    colour = alt.Color("series:N", title="", scale=alt.Scale(domain=[kept, removed, model],
                                                            range=[KEPT_COLOUR, REMOVED_COLOUR, MODEL_COLOUR]),
                       legend=alt.Legend(orient="top", labelLimit=0, labelFontSize=13))
    x = alt.X("token:N", sort=order, title=tr("col.token"))
    tooltip = [alt.Tooltip("token:N", title=tr("col.token")), alt.Tooltip("series:N", title=""),
               alt.Tooltip("p:Q", title=tr("col.p"), format=".3g")]
    chart = (alt.Chart(bars).mark_bar().encode(x=x, y=alt.Y("p:Q", title=tr("col.p")), color=colour,
                                                tooltip=tooltip)
             + alt.Chart(ticks).mark_tick(thickness=2).encode(x=x, y="p:Q", color=colour, tooltip=tooltip))
    st.altair_chart(chart, width="stretch")
    st.caption(tr("explorer.legend"))
