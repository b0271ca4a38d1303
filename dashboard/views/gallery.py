"""The class gallery: filters, groups with their metrics, charts, comparisons and the projector view.

Students see only their own (signed) class and never hidden outputs; instructor controls are drawn
only for a valid instructor token, and every action checks that token again (shared/services/moderation.py).
"""

import math
from dataclasses import replace

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import poll
from dashboard.auth import instructor, student
from dashboard.common import get_settings, get_store, redis_ok, tr
from dashboard.lab_widgets import plain
from dashboard.lesson_step import results_hidden
from dashboard.state import Gallery
from dashboard.widgets import diff_html, output_card, pass_rate_chart, readable_table, shortened
from shared.services.classes import list_classes
from shared.services.gallery import (
    SORTS,
    GalleryQuery,
    chart_rows,
    class_groups,
    class_prompts,
    class_stats,
    class_students,
    class_version,
    group_summaries,
    groups_differing_from_greedy,
    query,
    stats_matching,
)
from shared.services.moderation import Note, annotations, set_comment, set_hidden, set_star, spotlight

PAGE_SIZE = 20
COMPARE_CHOICES = 300  # outputs the compare pickers offer: every one the filters keep, up to this many
ALL = "∗"

store, settings = get_store(), get_settings()
token, joined = instructor(), student()
if not redis_ok(store):
    st.stop()
if joined:
    code = joined.code
elif token:
    codes = [c.code for c in list_classes(store)]
    code = st.selectbox(tr("instructor.class"), codes, key="gallery-class") if codes else ""
else:
    st.header(tr("nav.gallery"))
    st.info(tr("join.need"))
    st.stop()
st.header(tr("gallery.header", code=code))
if joined and not token and results_hidden(store, joined):
    st.stop()  # the step keeps the class's results for its reveal
include_hidden = token is not None


def choose(label: str, options: dict[str, str], key: str) -> str:
    """A selectbox over readable labels with an "all" first; returns the chosen value or ""."""
    labels = [tr("gallery.all")] + list(options)
    picked = st.selectbox(label, labels, key=key)
    return "" if picked == labels[0] else options[picked]


def group_label(label: str) -> str:
    """A stored group label (its config as DecodingConfig.label writes it) in the reader's language."""
    return label.replace("no top-k", tr("config.no_top_k"))


columns = st.columns([2, 4, 4, 2])  # prompts and configurations are long: they get the room
with columns[0]:
    lab = choose(tr("gallery.lab"), {tr("nav.decoding"): "decoding", tr("nav.ablation"): "ablation"}, "f-lab")
with columns[1]:  # the lists offer only what the chosen lab holds, in reading order
    prompt = choose(tr("gallery.prompt"), {shortened(text, 120): key for key, text in
                                           class_prompts(store, code, include_hidden, lab).items()}, "f-prompt")
with columns[2]:
    group = choose(tr("gallery.config"), {group_label(label): key for key, label in
                                          class_groups(store, code, include_hidden, lab).items()}, "f-group")
with columns[3]:
    who = choose(tr("gallery.student"), class_students(store, code), "f-student")
columns = st.columns([2, 2, 1, 1])
search = columns[0].text_input(tr("gallery.search"), max_chars=100, key="f-search")
sort_labels = {tr(f"sort.{s}"): s for s in SORTS}
sort = sort_labels[columns[1].selectbox(tr("gallery.sort"), list(sort_labels), key="f-sort")]
starred_only = columns[2].checkbox(tr("gallery.starred"), key="f-starred")
page = columns[3].number_input(tr("gallery.page"), min_value=1, value=1, step=1, key="f-page")
current = GalleryQuery(lab=lab, prompt=prompt, group=group, student=who, starred_only=starred_only,
                       search=search.strip(), sort=sort, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)

outputs_tab, groups_tab, charts_tab, compare_tab, spotlight_tab = st.tabs(
    [tr(f"gallery.tab.{t}") for t in ("outputs", "groups", "charts", "compare", "spotlight")])


def moderation_controls(output: dict, note: Note) -> None:
    """One row inside the card: star, hide, and the comment with its save button."""
    star, hide, comment_box, save = st.columns([2, 2, 5, 2], vertical_alignment="bottom")
    if star.button(tr("gallery.unstar") if note.starred else tr("gallery.star"), key=f"star-{output.id}",
                   width="stretch"):
        set_star(store, settings, token, code, output.id, not note.starred)
        st.rerun()
    if hide.button(tr("gallery.unhide") if note.hidden else tr("gallery.hide"), key=f"hide-{output.id}",
                   width="stretch"):
        set_hidden(store, settings, token, code, output.id, not note.hidden)
        st.rerun()
    comment = comment_box.text_input(tr("gallery.comment"), value=note.comment, max_chars=300,
                                     key=f"c-{output.id}", label_visibility="collapsed",
                                     placeholder=tr("gallery.comment"))
    if save.button(tr("gallery.save_comment"), key=f"save-{output.id}", width="stretch"):
        set_comment(store, settings, token, code, output.id, comment)
        st.rerun()


def gallery_watch(seen: tuple, busy: bool) -> poll.Pace:
    """Polls only a fingerprint (`poll.GALLERY`: while the class has work pending / when it has none); the
    page itself is drawn once. The instructor's (projected) view follows new results by itself; a student
    gets a button, so a class burst does not redraw 300 pages."""
    count = store.pending_count(code)
    pending = count > 0
    st.caption(tr("gallery.pending", count=count))
    now = class_version(store, code)
    if now != seen and token:
        st.rerun()
    if now != seen and st.button(tr("gallery.refresh", count=max(1, now[0] - seen[0])), key="gallery-refresh"):
        st.rerun()
    return poll.GALLERY[pending]  # another when the class turned busy or idle: the page polls at that pace


def outputs_page(current: GalleryQuery) -> None:
    """One page of outputs, drawn once per page run."""
    outputs, total = query(store, code, current, include_hidden)
    st.caption(tr("gallery.count", total=total, page=current.offset // PAGE_SIZE + 1,
                  pages=max(1, math.ceil(total / PAGE_SIZE))))
    if not outputs:
        st.info(tr("gallery.empty"))
        return
    notes = annotations(store, code, [o.id for o in outputs])
    for output in outputs:
        card = output_card(output, show_student=True, note=notes[output.id], collapse=True)
        if token:
            with card:
                moderation_controls(output, notes[output.id])


with outputs_tab:
    busy = store.pending_count(code) > 0
    poll.poll(poll.GALLERY[busy], gallery_watch, class_version(store, code), busy)
    outputs_page(current)

stats = stats_matching(store, code, class_stats(store, code, include_hidden), current)  # groups and charts follow

with groups_tab:
    differ = st.checkbox(tr("gallery.differ"), disabled=not prompt, key="f-differ")
    summaries = group_summaries(store, code, stats, lab)
    if differ and prompt:
        keep = groups_differing_from_greedy(store, code, prompt, include_hidden)
        summaries = [s for s in summaries if s.key in keep]
    check_names = sorted({name for s in summaries for name in s.checks})
    st.dataframe(readable_table(pd.DataFrame([{
        tr("col.label"): s.label, tr("col.count"): s.count, tr("col.median_tokens"): s.median_tokens,
        tr("col.distinct_2"): s.distinct_2, tr("col.loop_rate"): s.loop_rate,
        **{tr(f"check.{n}"): s.checks.get(n) for n in check_names}} for s in summaries])), hide_index=True)

def projected(chart: alt.Chart) -> alt.Chart:
    """Type a projector can show at the back of a classroom (Vega's default is 10-11 px)."""
    return chart.configure_axis(labelFontSize=15, titleFontSize=16).configure_legend(labelFontSize=15)


def numeric_axis(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The x values as short labels ("1.1", never "1.100000"), ordered by value: one point or five,
    the axis reads the same."""
    return frame.assign(**{column: frame[column].map(lambda v: f"{v:g}")})


def repetition_chart(rows: list[dict], knob: str) -> None:
    """distinct-2 and loop rate (0..1) against one knob's values, as lines with points."""
    frame = numeric_axis(pd.DataFrame(rows), knob).melt([knob, "outputs"], ["distinct_2", "loop_rate"], "metric")
    frame["metric"] = frame["metric"].map(lambda m: tr(f"col.{m}"))
    order = [f"{r[knob]:g}" for r in rows]
    st.altair_chart(projected(alt.Chart(frame).mark_line(point=alt.OverlayMarkDef(size=90)).encode(
        x=alt.X(f"{knob}:O", sort=order, title=tr(f"col.{knob}"), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title=tr("chart.value"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("metric:N", title=""),
        tooltip=[alt.Tooltip("metric:N", title=""), alt.Tooltip("value:Q", format=".2f"),
                 alt.Tooltip("outputs:Q", title=tr("col.count"))])), width="stretch")


def temperature_chart(rows: list[dict]) -> None:
    repetition_chart(rows, "temperature")


def penalty_chart(rows: list[dict]) -> None:
    repetition_chart(rows, "repetition_penalty")
    if len(rows) == 1:
        st.caption(tr("chart.one_value"))


def checks_chart(rows: list[dict]) -> None:
    """Checks x variants, each cell coloured by its pass rate and labelled with it in per cent."""
    frame = pd.DataFrame(rows).assign(check=lambda f: f["check"].map(lambda c: tr(f"check.{c}")))
    st.altair_chart(projected(pass_rate_chart(frame)), width="stretch")


def chart_section(title_key: str, rows: list[dict], draw) -> None:
    st.subheader(tr(title_key))
    if rows:
        draw(rows)
    else:
        st.info(tr("chart.empty"))


with charts_tab:
    data = chart_rows(stats)
    if lab != "ablation":  # each lab's charts only where the filters keep that lab
        chart_section("chart.temperature", data.temperature, temperature_chart)
        chart_section("chart.penalty", data.penalty, penalty_chart)
    if lab != "decoding":
        chart_section("chart.checks", data.checks, checks_chart)

with compare_tab:
    choices, _ = query(store, code, replace(current, offset=0, limit=COMPARE_CHOICES),
                       include_hidden)
    if len(choices) < 2:
        st.info(tr("gallery.need_two_kept"))
    else:
        st.caption(tr("gallery.compare_reach", count=len(choices)))
        names = {f"{o.student} · {group_label(o.label)} · {tr('common.seed', seed=o.seed)} · {plain(o.text[:30])} "
                 f"· #{o.id}": o for o in choices}
        left, right = st.columns(2)
        first_name = left.selectbox(tr("gallery.left"), list(names), index=0, key=Gallery.COMPARE_LEFT.key)
        first = names[first_name]
        others = [name for name in names if name != first_name]  # never one output against itself
        if Gallery.COMPARE_RIGHT.get() not in others:  # new filters, or the left one took its place
            Gallery.COMPARE_RIGHT.set(others[0])
        second = names[right.selectbox(tr("gallery.right"), others, key=Gallery.COMPARE_RIGHT.key)]
        with left:
            output_card(first, show_student=True)
        with right:
            output_card(second, show_student=True)
        st.subheader(tr("gallery.diff_header"))
        st.caption(tr("gallery.diff_legend"))
        st.html(diff_html(first.text, second.text))

# Static CSS (model text stays in st.text): projected type, and the prompt set apart from what the model
# wrote after it: smaller, grey, italic, behind a bar, and labelled, so it reads apart without colour too.
SPOTLIGHT_CSS = """<style>
.st-key-spotlight [data-testid='stText'], .st-key-spotlight [data-testid='stText'] * {
  font-size: 1.6rem !important; line-height: 1.4; }
.st-key-spotlight [class*='st-key-spotlight-prompt'] [data-testid='stText'],
.st-key-spotlight [class*='st-key-spotlight-prompt'] [data-testid='stText'] * {
  font-size: 1.25rem !important; font-style: italic; color: #555; }
.st-key-spotlight [class*='st-key-spotlight-prompt'] { border-left: 6px solid #999; padding-left: 0.8rem; }
</style>"""
SPOTLIGHT_PROMPT_CHARS = 240  # a projected prompt: the notebook's in full, an ablation's first lines

with spotlight_tab:
    st.html(SPOTLIGHT_CSS)
    starred = spotlight(store, code)
    if not starred:
        st.info(tr("spotlight.empty"))
    notes = annotations(store, code, [o.id for o in starred])
    with st.container(key="spotlight"):
        for number, output in enumerate(starred):
            st.text(output.label)
            with st.container(key=f"spotlight-prompt-{number}"):
                st.text(tr("card.prompt", prompt=shortened(output.prompt, SPOTLIGHT_PROMPT_CHARS)))
            st.text(plain(output.text))
            st.text(tr("common.with_seed", who=output.student, seed=output.seed))
            if notes[output.id].comment:  # what the instructor wants the class to look at
                st.text(tr("gallery.comment_mark", comment=notes[output.id].comment))
            st.divider()
