"""Exercise 1: one prompt, several decoding configurations, outputs side by side."""

import math

import pandas as pd
import streamlit as st

from dashboard.common import get_settings, get_store, lang, model_picker, redis_ok, require_student, tr
from dashboard.widgets import outputs_side_by_side
from shared.decoding import NOTEBOOK_PROMPT, PRESETS, STRATEGIES
from shared.problems import Problem
from shared.submissions import build_request, progress, submit

COLUMNS = ["strategy", "temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens"]

st.header(tr("decoding.header"))
code, name = require_student()
store, settings = get_store(), get_settings()
if not redis_ok(store):
    st.stop()
st.caption(tr("decoding.intro"))
model = model_picker(store)

prompt = st.text_area(tr("decoding.prompt"), value=NOTEBOOK_PROMPT, height=100, key="prompt")
st.subheader(tr("decoding.configs"))
st.caption(tr("decoding.add_row"))
presets = pd.DataFrame([{c: getattr(p, c) for c in COLUMNS} for p in PRESETS.values()], columns=COLUMNS)
edited = st.data_editor(presets, num_rows="dynamic", key="configs", hide_index=True, column_config={
    "strategy": st.column_config.SelectboxColumn(tr("col.strategy"), options=list(STRATEGIES), required=True),
    "temperature": st.column_config.NumberColumn(tr("col.temperature"), format="%.2f"),
    "top_k": st.column_config.NumberColumn(tr("col.top_k"), step=1),
    "top_p": st.column_config.NumberColumn(tr("col.top_p"), format="%.2f"),
    "repetition_penalty": st.column_config.NumberColumn(tr("col.repetition_penalty"), format="%.2f"),
    "max_new_tokens": st.column_config.NumberColumn(tr("col.max_new_tokens"), step=1),
})
seed = st.number_input(tr("decoding.seed"), min_value=0, max_value=2**32 - 1, value=42, step=1)


def row_to_config(row: dict) -> dict:
    """Empty cells mean "use the default"; an empty top_k is transformers' default (50)."""
    config = {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v)) and v is not None}
    config.setdefault("top_k", None)
    return config


if st.button(tr("decoding.run"), type="primary"):
    configs = [row_to_config(row) for row in edited.to_dict("records")]
    try:
        request = build_request(settings, class_code=code, student=name, prompt=prompt, configs=configs,
                                seed=seed, model=model)
        submit(store, settings, request)
        st.session_state.current_submission = request["id"]
    except Problem.Invalid as invalid:
        for message in invalid.messages(lang()):
            st.error(message)


@st.fragment(run_every=1.0)
def submission_status(submission_id: str) -> None:
    """Polled every second: queue position, tokens done, then the outputs."""
    view = progress(store, settings, submission_id)
    if view is None:
        return
    if view["status"] == "queued":
        where = {"position": view["position"] or "?", "depth": view["depth"] or "?"}
        if view.get("wait_seconds") is not None:
            st.info(tr("decoding.queued_wait", seconds=max(1, round(view["wait_seconds"])), **where))
        else:
            st.info(tr("decoding.queued", **where))
        if view["attempts"]:
            st.warning(tr("decoding.retrying", attempt=view["attempts"] + 1))
    elif view["status"] == "running":
        st.progress(min(1.0, view["done"] / max(1, view["total"])),
                    text=tr("decoding.running", done=view["done"], total=view["total"]))
    elif view["status"] == "failed":
        error = view["error"] or {"code": "worker_error", "params": {"detail": "?"}}
        st.error(tr("decoding.failed", reason=Problem.from_dict(error).message(lang())))
    else:
        st.success(tr("decoding.done", seconds=round(view["finished_at"] - view["created_at"], 1)))
        st.subheader(tr("decoding.results"))
        outputs_side_by_side(store.submission_outputs(submission_id))


if st.session_state.get("current_submission"):
    submission_status(st.session_state.current_submission)
