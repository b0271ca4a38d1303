"""Exercise 1: one prompt, several decoding configurations (or a sweep), outputs side by side."""

import math

import pandas as pd
import streamlit as st

from dashboard.common import default_seed, redis_tolerant, tr
from dashboard.lab_page import lab_page
from dashboard.lab_widgets import explorer, history_picker, past_submissions, theory_notes, token_view
from dashboard.lesson_step import lesson_step, results_hidden
from dashboard.state import DecodingForm, Press, Work, keep_rows, kept, kept_rows, kept_rows_slot, remember
from dashboard.submit import follow, follow_unconfirmed, run_pressed, submit_press
from dashboard.widgets import live_banner, output_card, progress_banner
from shared.contract.decoding import GREEDY, NOTEBOOK_PROMPT, STRATEGIES, TRANSFORMERS_DEFAULT_TOP_K
from shared.contract.records import Output
from shared.services.moderation import Note, annotations
from shared.services.validation import build_request
from shared.teaching.sweeps import SWEEP_NAMES, sweep

COLUMNS = ["strategy", "temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens", "seed"]


def blank_if_none(value):
    """An empty cell where a row leaves a setting to its default."""
    return float("nan") if value is None else value


def table_row(row: dict, seed: int) -> dict:
    """A sweep's row as the table shows it, never an empty cell the table would draw as "None": top_k as it
    runs where the row leaves it unset (transformers' 50 when sampling; 0, no cut, for greedy), and the
    seed above where the row has none of its own."""
    shown = {column: blank_if_none(row.get(column)) for column in COLUMNS}
    if row.get("top_k") is None:
        shown["top_k"] = 0 if row.get("strategy") == GREEDY else TRANSFORMERS_DEFAULT_TOP_K
    if row.get("seed") is None:
        shown["seed"] = seed
    return shown


def form_of(request) -> None:
    """A new session (F5, a new tab) opens on the student's newest results: put the form that made them
    back above them (prompt, seed, the sweep whose table they ran, and that table), so the form matches
    the results on screen."""
    seeds = [item.seed for item in request.items]
    seed = max(set(seeds), key=seeds.count)  # the seed above; rows with another kept theirs
    rows = [{**{c: getattr(item.config, c) for c in COLUMNS if c != "seed"}, "seed": item.seed}
            for item in request.items]
    name = next((n for n in SWEEP_NAMES if [table_row(r, seed) for r in sweep(n, seed=seed)] == rows),
                SWEEP_NAMES[0])
    kept(DecodingForm.PROMPT.key).set(request.prompt)
    kept(DecodingForm.SEED.key).set(seed)
    DecodingForm.SWEEP_NAME.set(name)
    kept_rows_slot(DecodingForm.editor(name, seed)).set(rows)


def restore_newest() -> None:
    if Work.DECODING.is_set() or kept(DecodingForm.PROMPT.key).is_set():
        return  # this session already has a form of its own
    newest = next(iter(past_submissions(store, me, "decoding").values()), None)
    record = store.submission(newest) if newest else None
    if record is not None and newest:
        Work.DECODING.set(newest)
        form_of(record.request)


me, store, settings, model = lab_page("decoding.header", "decoding.intro")
lesson_step(store, me, "decoding")  # the class's current step, and this form prefilled with its task
theory_notes()
restore_newest()

remember(DecodingForm.PROMPT.key, NOTEBOOK_PROMPT)  # the form stays as the student left it, under their results
prompt = st.text_area(tr("decoding.prompt"), height=100, max_chars=settings.max_prompt_chars,
                      key=DecodingForm.PROMPT.key)
sweep_labels = {tr(f"sweep.{name}"): name for name in SWEEP_NAMES}  # plain options: AppTest drives them
if DecodingForm.SWEEP.get() not in sweep_labels:  # back on the page, or the language changed
    kept_sweep = DecodingForm.SWEEP_NAME.get_or(SWEEP_NAMES[0])
    DecodingForm.SWEEP.set(next(label for label, name in sweep_labels.items() if name == kept_sweep))
chosen_sweep = sweep_labels[st.selectbox(tr("decoding.sweep"), list(sweep_labels), key=DecodingForm.SWEEP.key)]
DecodingForm.SWEEP_NAME.set(chosen_sweep)
remember(DecodingForm.SEED.key, default_seed(me))
seed = st.number_input(tr("decoding.seed"), min_value=0, max_value=2**32 - 1, step=1, help=tr("theory.seed"),
                       key=DecodingForm.SEED.key)
st.caption(tr("decoding.add_row"))
editor = DecodingForm.editor(chosen_sweep, seed)
fresh = [table_row(row, int(seed)) for row in sweep(chosen_sweep, seed=int(seed))]
rows = pd.DataFrame(kept_rows(editor, fresh), columns=COLUMNS)
# Widths that fit all seven columns, the seed included, in the main area of a 1400-px projector screen
# (about 940 px beside the sidebar; numbers are right-aligned, so a cut-off column shows nothing).
edited = st.data_editor(rows, num_rows="dynamic", key=editor, hide_index=True, column_config={
    "strategy": st.column_config.SelectboxColumn(tr("col.strategy"), options=list(STRATEGIES), required=True,
                                                 help=tr("theory.greedy"), width=95),
    "temperature": st.column_config.NumberColumn(tr("col.temperature"), format="%.2f", help=tr("theory.temperature"),
                                                 width=100),
    "top_k": st.column_config.NumberColumn(tr("col.top_k"), step=1, help=tr("theory.top_k"), width=215),
    "top_p": st.column_config.NumberColumn(tr("col.top_p"), format="%.2f", help=tr("theory.top_p"), width=70),
    "repetition_penalty": st.column_config.NumberColumn(tr("col.repetition_penalty"), format="%.2f",
                                                        help=tr("theory.repetition_penalty"), width=140),
    "max_new_tokens": st.column_config.NumberColumn(tr("col.max_new_tokens"), step=1, width=125),
    "seed": st.column_config.NumberColumn(tr("col.seed"), step=1, help=tr("theory.seed"), width=110),
})
keep_rows(editor, edited.to_dict("records"))


def row_to_config(row: dict) -> dict:
    """Empty cells mean "use the default"; an empty top_k is transformers' default (50)."""
    config = {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v)) and v is not None}
    config.setdefault("top_k", None)
    return config


def run(configs: list[dict], text: str, run_seed) -> None:
    submit_press(store, settings, Work.DECODING, lambda request_id: build_request(
        settings, class_code=me.code, student=me.label, student_id=me.id, prompt=text, configs=configs,
        seed=run_seed, model=model, request_id=request_id))


def show_output(output: Output, note: Note) -> None:
    output_card(output, note=note, metrics=True, collapse=True, own=True)
    if output.cached_from:
        st.text("♻ " + tr("decoding.cached"))
    if st.button(tr("decoding.run_again"), key=f"again-{output.id}"):
        run([{**output.config.to_dict(), "seed": output.seed}], output.prompt, output.seed)
        st.rerun()  # show the new submission (it may already be answered from the cache)
    if st.toggle(tr("tokens.header"), key=f"tokens-{output.id}"):  # built only when opened
        token_view(store, output)


def show_results(submission_id: str) -> None:
    """Queue position and progress while pending (polled); then the outputs side by side, drawn once."""
    view = follow(store, settings, submission_id, live_banner, owner=me)
    if view is None or not progress_banner(view) or results_hidden(store, me):
        return
    st.success(tr("decoding.done", seconds=round(view.finished_at - view.created_at, 1)))
    st.subheader(tr("decoding.results"))
    outputs = store.submission_outputs(submission_id)
    notes = annotations(store, me.code, [o.id for o in outputs])  # the instructor's marks on my results
    for start in range(0, len(outputs), 3):
        for column, output in zip(st.columns(3), outputs[start:start + 3]):
            with column:
                show_output(output, notes[output.id])


def form_state(editor_key: str) -> tuple:
    """The form above the Run button as the last message from the browser left it: which table (sweep
    and seed) and the edits made to it. Equal to what the page last drew unless the student changed it
    in the same message as their press."""
    return editor_key, repr(st.session_state.get(editor_key))


@st.fragment
def run_and_results(configs: list[dict], drawn_form: tuple, labels: dict) -> None:
    """The Run button, the history and the results. A press reruns only this fragment: the page above
    it (sidebar, session check, worker status, form, table) is not redrawn, so the answer to a press is
    the submission and its queue banner, not a page. `configs` and `drawn_form` are those of the page's
    last run: if the table changed since (its sweep, seed or cells, sent with the press), the press is
    carried over to a full run, which reads the table anew."""
    def table_changed() -> bool:
        sweep_now = labels.get(DecodingForm.SWEEP.get_or(""), "")
        return form_state(DecodingForm.editor(sweep_now, DecodingForm.SEED.get())) != drawn_form

    if run_pressed(Press.DECODING_CARRIED, table_changed):
        text = DecodingForm.PROMPT.get_or(prompt)
        kept(DecodingForm.PROMPT.key).set(text)  # remember() runs with the page, not the fragment
        run(configs, text, DecodingForm.SEED.get_or(seed))
    follow_unconfirmed(store)
    if not Work.DECODING.is_set():  # after a reload or a restart: the newest
        newest = next(iter(past_submissions(store, me, "decoding").values()), None)
        if newest:
            Work.DECODING.set(newest)
    history_slot = st.container()  # above the results, filled after them: its labels are read after theirs
    following = Work.DECODING.get()
    if following:
        redis_tolerant(show_results)(following)
    with history_slot:
        history_picker(store, me, "decoding", Work.DECODING)


run_and_results([row_to_config(row) for row in edited.to_dict("records")], form_state(editor), sweep_labels)

st.divider()
explorer(store, settings, me, model, prompt)
