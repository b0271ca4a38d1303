"""Exercise 1: one prompt, several decoding configurations (or a sweep), outputs side by side."""

import math

import pandas as pd
import streamlit as st

from dashboard.common import follow, follow_unconfirmed, lab_page, redis_tolerant, submit_press, tr
from dashboard.lab_widgets import explorer, metrics_line, past_submissions, theory_notes, token_view
from dashboard.widgets import output_card, progress_banner
from shared.decoding import NOTEBOOK_PROMPT, STRATEGIES
from shared.submissions import build_request
from shared.sweeps import SWEEP_NAMES, sweep

COLUMNS = ["strategy", "temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens", "seed"]

me, store, settings, model = lab_page("decoding.header", "decoding.intro")
theory_notes()

prompt = st.text_area(tr("decoding.prompt"), value=NOTEBOOK_PROMPT, height=100, key="prompt")
sweep_labels = {tr(f"sweep.{name}"): name for name in SWEEP_NAMES}
chosen_sweep = sweep_labels[st.selectbox(tr("decoding.sweep"), list(sweep_labels), key="sweep")]
seed = st.number_input(tr("decoding.seed"), min_value=0, max_value=2**32 - 1, value=42, step=1,
                       help=tr("theory.seed"))
st.caption(tr("decoding.add_row"))
rows = pd.DataFrame([{c: row.get(c) for c in COLUMNS} for row in sweep(chosen_sweep, seed=int(seed))],
                    columns=COLUMNS)
edited = st.data_editor(rows, num_rows="dynamic", key=f"configs-{chosen_sweep}", hide_index=True, column_config={
    "strategy": st.column_config.SelectboxColumn(tr("col.strategy"), options=list(STRATEGIES), required=True,
                                                 help=tr("theory.greedy")),
    "temperature": st.column_config.NumberColumn(tr("col.temperature"), format="%.2f", help=tr("theory.temperature")),
    "top_k": st.column_config.NumberColumn(tr("col.top_k"), step=1, help=tr("theory.top_k")),
    "top_p": st.column_config.NumberColumn(tr("col.top_p"), format="%.2f", help=tr("theory.top_p")),
    "repetition_penalty": st.column_config.NumberColumn(tr("col.repetition_penalty"), format="%.2f",
                                                        help=tr("theory.repetition_penalty")),
    "max_new_tokens": st.column_config.NumberColumn(tr("col.max_new_tokens"), step=1),
    "seed": st.column_config.NumberColumn(tr("col.seed"), step=1, help=tr("theory.seed")),
})


def row_to_config(row: dict) -> dict:
    """Empty cells mean "use the default"; an empty top_k is transformers' default (50)."""
    config = {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v)) and v is not None}
    config.setdefault("top_k", None)
    return config


def run(configs: list[dict], text: str, run_seed) -> None:
    submit_press(store, settings, "current_submission", lambda request_id: build_request(
        settings, class_code=me.code, student=me.label, student_id=me.id, prompt=text, configs=configs, seed=run_seed, model=model,
        request_id=request_id))


if st.button(tr("decoding.run"), type="primary"):
    run([row_to_config(row) for row in edited.to_dict("records")], prompt, seed)
follow_unconfirmed(store)


def show_output(output: dict) -> None:
    output_card(output)
    config = ", ".join(f"{key}={value}" for key, value in output["effective_config"].items())
    st.text(tr("decoding.config_full", config=config, seed=output["seed"], model=output["model"]))
    metrics_line(output)
    if output.get("cached_from"):
        st.text("♻ " + tr("decoding.cached"))
    if st.button(tr("decoding.run_again"), key=f"again-{output['id']}"):
        run([{**output["config"], "seed": output["seed"]}], output["prompt"], output["seed"])
        st.rerun()  # show the new submission (it may already be answered from the cache)
    if st.toggle(tr("tokens.header"), key=f"tokens-{output['id']}"):  # built only when opened
        token_view(store, output)


def show_results(submission_id: str) -> None:
    """Queue position and progress while pending (polled); then the outputs side by side, drawn once."""
    view = follow(store, settings, submission_id, progress_banner)
    if view is None or not progress_banner(view):
        return
    st.success(tr("decoding.done", seconds=round(view["finished_at"] - view["created_at"], 1)))
    st.subheader(tr("decoding.results"))
    outputs = store.submission_outputs(submission_id)
    for start in range(0, len(outputs), 3):
        for column, output in zip(st.columns(3), outputs[start:start + 3]):
            with column:
                show_output(output)


history = past_submissions(store, me, "decoding")
if history and "current_submission" not in st.session_state:
    st.session_state.current_submission = next(iter(history.values()))  # after a reload or a restart
if len(history) > 1:
    left, right = st.columns([3, 1])
    picked = left.selectbox(tr("decoding.history"), list(history), key="history")
    if right.button(tr("decoding.show"), key="show-history"):
        st.session_state.current_submission = history[picked]
if st.session_state.get("current_submission"):
    redis_tolerant(show_results)(st.session_state.current_submission)

st.divider()
explorer(store, settings, me, model, prompt)
