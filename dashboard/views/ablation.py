"""Exercise 2: build a prompt from parts, sample every variant on the same seeds, read the effect matrix."""

import pandas as pd
import streamlit as st

from dashboard.common import default_seed, lang, redis_tolerant, tr
from dashboard.lab_page import lab_page
from dashboard.lab_widgets import past_submissions, plain
from dashboard.lesson_step import lesson_step, results_hidden
from dashboard.state import AblationForm, Press, Work, remember
from dashboard.submit import follow, follow_unconfirmed, run_pressed, submit_press
from dashboard.widgets import live_banner, pass_rate_chart, progress_banner, prompt_line
from shared.contract.records import Output, Request
from shared.services.validation import build_request
from shared.teaching.ablation import (
    DEFAULT_SAMPLES,
    INSTRUCTIONS,
    NOTEBOOK_ABLATION_CONFIG,
    NOTEBOOK_SUMMARY,
    NOTEBOOK_TONE,
    NOTEBOOK_TOPIC,
    STRUCTURES,
    PromptParts,
    check_specs,
    effect_matrix,
    variants,
)
from shared.teaching.checks import check_detail

me, store, settings, model = lab_page("ablation.header", "ablation.intro")
lesson_step(store, me, "ablation")  # the class's current step, and this form prefilled with its task

remember(AblationForm.TOPIC.key, NOTEBOOK_TOPIC)  # the form stays as the student left it, under their results
topic = st.text_input(tr("ablation.topic"), max_chars=300, key=AblationForm.TOPIC.key)
left, right = st.columns(2)
with left:
    remember("a-use-tone", True)
    use_tone = st.checkbox(f"{tr('ablation.tone')} · {tr('ablation.use')}", key="a-use-tone")
    remember("a-tone", NOTEBOOK_TONE)
    tone = st.text_input(tr("ablation.tone"), max_chars=200, label_visibility="collapsed", key="a-tone")
    remember("a-use-summary", True)
    use_summary = st.checkbox(f"{tr('ablation.summary')} · {tr('ablation.use')}", key="a-use-summary")
    remember("a-summary", NOTEBOOK_SUMMARY)
    summary = st.text_input(tr("ablation.summary"), max_chars=200, label_visibility="collapsed", key="a-summary")
with right:
    extras = st.multiselect(tr("ablation.extras"), list(INSTRUCTIONS.values()), key="a-extras",
                            placeholder=tr("ablation.extras_placeholder"))
    remember("a-words", 50)
    word_limit = st.number_input(tr("ablation.word_limit"), min_value=5, max_value=500, step=5, key="a-words")
    structure_labels = {tr(f"structure.{s}"): s for s in STRUCTURES}
    structure = structure_labels[st.radio(tr("ablation.structure"), list(structure_labels), horizontal=True,
                                          key="a-structure")]
remember("a-custom", "")
custom_lines = st.text_area(tr("ablation.custom_variants"), height=70, max_chars=settings.max_prompt_chars, key="a-custom")
kinds = {tr(f"ablation.custom_kind.{k}"): k for k in ("none", "contains", "regex")}
check_left, check_right = st.columns([1, 2])
custom_kind = kinds[check_left.selectbox(tr("ablation.custom_check"), list(kinds), key="a-custom-kind")]
remember("a-pattern", "")
pattern = check_right.text_input(tr("ablation.pattern"), max_chars=200, key="a-pattern")
columns = st.columns(5)
for key, default in (("a-samples", DEFAULT_SAMPLES), ("a-seed", default_seed(me)),
                     ("a-temperature", NOTEBOOK_ABLATION_CONFIG["temperature"]),
                     ("a-top-p", NOTEBOOK_ABLATION_CONFIG["top_p"]), ("a-tokens", NOTEBOOK_ABLATION_CONFIG["max_new_tokens"])):
    remember(key, default)
samples = columns[0].number_input(tr("ablation.samples"), min_value=1, max_value=10, key="a-samples")
seed = columns[1].number_input(tr("decoding.seed"), min_value=0, max_value=2**32 - 1, help=tr("theory.seed"),
                               key="a-seed")
temperature = columns[2].number_input(tr("col.temperature"), help=tr("theory.temperature"), key="a-temperature")
top_p = columns[3].number_input(tr("col.top_p"), help=tr("theory.top_p"), key="a-top-p")
max_new_tokens = columns[4].number_input(tr("col.max_new_tokens"), step=10, key="a-tokens")

keys = {text: key for key, text in INSTRUCTIONS.items()}
parts = PromptParts(topic=topic.strip(), tone=tone.strip() if use_tone else None,
                    summary=summary.strip() if use_summary else None,
                    extras=[keys[e] for e in extras], word_limit=int(word_limit), structure=structure)
custom = dict(line.split(":", 1) for line in custom_lines.splitlines() if ":" in line)
found = variants(parts, {k.strip()[:40]: v.strip() for k, v in custom.items()})
st.subheader(tr("ablation.variants"))
st.dataframe(pd.DataFrame({tr("col.variant"): list(found), tr("col.prompt"): list(found.values())}),
             hide_index=True)

def form_state() -> str:
    """The form above as the last message from the browser left it: a press of Run reruns only the
    fragment below, with the request built from the form as the page last drew it, unless the press came
    with a change to it."""
    return repr([st.session_state.get(key) for key in AblationForm.KEYS])


def run() -> None:
    config = {**NOTEBOOK_ABLATION_CONFIG, "temperature": temperature, "top_p": top_p,
              "max_new_tokens": max_new_tokens}
    own_check = {"kind": custom_kind, "pattern": pattern} if custom_kind != "none" else None
    submit_press(store, settings, Work.ABLATION, lambda request_id: build_request(
        settings, class_code=me.code, student=me.label, student_id=me.id, prompt="", seed=seed, model=model,
        configs=[{**config, "seed": int(seed) + i} for i in range(int(samples))], lab="ablation",
        variants=found, checks=check_specs(parts, custom=own_check), topic=parts.topic, request_id=request_id))


def matrix_view(request: Request, outputs: list[Output]) -> None:
    check_ids = [spec["id"] for spec in request.checks]
    order = list(dict.fromkeys(item.variant for item in request.items))
    rows = effect_matrix(outputs, order, check_ids)
    st.subheader(tr("ablation.matrix"))
    st.caption(tr("ablation.matrix_caption"))
    table = pd.DataFrame([{tr("col.variant"): row["variant"],
                           **{tr(f"check.{c}"): cell_text(row[c]) for c in check_ids}} for row in rows])
    st.dataframe(table, hide_index=True)
    heat = pd.DataFrame([{"variant": row["variant"], "check": tr(f"check.{c}"), "rate": row[c]["rate"] or 0.0}
                         for row in rows for c in check_ids])
    st.altair_chart(pass_rate_chart(heat, order), width="stretch")
    chosen = st.selectbox(tr("ablation.samples_of"), order, key=AblationForm.VARIANT.key)
    for output in [o for o in outputs if o.variant == chosen]:
        with st.container(border=True):
            st.text(tr("common.with_seed", who=output.label, seed=output.seed))
            prompt_line(output.prompt, expandable=True)
            st.text(plain(output.text) or "∅")
            for check_id, result in output.checks.items():
                st.text(tr("check.result", mark=tr("check.passed" if result["passed"] else "check.failed"), name=tr(f"check.{check_id}"),
                           detail=check_detail(result, lang())))


def cell_text(cell: dict) -> str:
    if not cell["samples"]:
        return "—"
    text = f"{cell['passed']}/{cell['samples']} ({round(100 * cell['rate'])}%)"
    if cell["delta"] is not None and cell["delta"] != 0:
        text += f" {'+' if cell['delta'] > 0 else ''}{round(100 * cell['delta'])}"
    return text


def ablation_results(submission_id: str) -> None:
    """Progress while pending (polled); then the effect matrix and samples, drawn once."""
    view = follow(store, settings, submission_id, live_banner, owner=me)
    if view is not None and progress_banner(view) and not results_hidden(store, me):
        matrix_view(store.submission(submission_id).request, store.submission_outputs(submission_id))


@st.fragment
def run_and_results(drawn_form: str) -> None:
    """The Run button and the results. A press reruns only this fragment (the submission and its queue
    banner), not the form above; if the press came with a change to the form (`drawn_form` is the form
    the page last drew), it is carried over to a full run, which builds the request from the form anew."""
    if run_pressed(Press.ABLATION_CARRIED, lambda: form_state() != drawn_form):
        run()
    follow_unconfirmed(store)
    history = past_submissions(store, me, "ablation")
    if history and not Work.ABLATION.is_set():
        Work.ABLATION.set(next(iter(history.values())))  # after a reload or a restart
    following = Work.ABLATION.get()
    if following:
        redis_tolerant(ablation_results)(following)


run_and_results(form_state())
