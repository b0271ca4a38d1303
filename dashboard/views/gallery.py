"""The class gallery: filters, groups with their metrics, charts, comparisons and the projector view.

Students see only their own (signed) class and never hidden outputs; instructor controls are drawn
only for a valid instructor token, and every action checks that token again (shared/moderation.py).
"""

import math

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.common import get_settings, get_store, instructor, redis_ok, redis_tolerant, student, tr
from dashboard.widgets import output_card
from shared.classes import list_classes
from shared.gallery import (SORTS, GalleryQuery, chart_rows, class_groups, class_prompts, class_stats, class_students,
                            group_summaries, groups_differing_from_greedy, query, word_diff)
from shared.moderation import annotations, set_comment, set_hidden, set_star, spotlight

PAGE_SIZE = 20
ALL = "∗"

store, settings = get_store(), get_settings()
token, joined = instructor(), student()
if not redis_ok(store):
    st.stop()
if joined:
    code = joined.code
elif token:
    codes = [c["code"] for c in list_classes(store)]
    code = st.selectbox(tr("instructor.class"), codes) if codes else ""
else:
    st.header(tr("nav.gallery"))
    st.info(tr("join.need"))
    st.stop()
st.header(tr("gallery.header", code=code))
include_hidden = token is not None


def choose(label: str, options: dict[str, str], key: str) -> str:
    """A selectbox over readable labels with an "all" first; returns the chosen value or ""."""
    labels = [tr("gallery.all")] + list(options)
    picked = st.selectbox(label, labels, key=key)
    return "" if picked == labels[0] else options[picked]


groups = class_groups(store, code, include_hidden)
columns = st.columns(4)
with columns[0]:
    lab = choose(tr("gallery.lab"), {"decoding": "decoding", "ablation": "ablation"}, "f-lab")
with columns[1]:
    prompt = choose(tr("gallery.prompt"), {v[:80]: k for k, v in class_prompts(store, code, include_hidden).items()}, "f-prompt")
with columns[2]:
    group = choose(tr("gallery.config"), {label: key for key, label in groups.items()}, "f-group")
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


def moderation_controls(output: dict, note: dict) -> None:
    left, right = st.columns(2)
    if left.button(tr("gallery.unstar") if note["starred"] else tr("gallery.star"), key=f"star-{output['id']}"):
        set_star(store, settings, token, code, output["id"], not note["starred"])
        st.rerun()
    if right.button(tr("gallery.unhide") if note["hidden"] else tr("gallery.hide"), key=f"hide-{output['id']}"):
        set_hidden(store, settings, token, code, output["id"], not note["hidden"])
        st.rerun()
    comment = st.text_input(tr("gallery.comment"), value=note["comment"], max_chars=300, key=f"c-{output['id']}")
    if st.button(tr("gallery.save_comment"), key=f"save-{output['id']}"):
        set_comment(store, settings, token, code, output["id"], comment)
        st.rerun()


GALLERY_POLL_SECONDS = {True: 3.0, False: 30.0}  # while the class has work pending / when it has none


def class_version(store, code: str) -> tuple[int, int, int]:
    """Cheap fingerprint of what the gallery shows: outputs, hidden ones, stars (three O(1) reads)."""
    with store.redis.pipeline(transaction=False) as pipe:
        pipe.zcard(store.class_key(code, "outputs"))
        pipe.scard(store.class_key(code, "hidden"))
        pipe.zcard(store.class_key(code, "starred"))
        return tuple(pipe.execute())


@redis_tolerant
def gallery_watch(seen: tuple, busy: bool) -> None:
    """Polls only a fingerprint; the page itself is drawn once. The instructor's (projected) view
    follows new results by itself; a student gets a button, so a class burst does not redraw 300 pages."""
    pending = store.pending_count(code) > 0
    st.caption(tr("gallery.pending", count=store.pending_count(code)))
    now = class_version(store, code)
    if now != seen and token:
        st.rerun()
    if now != seen and st.button(tr("gallery.refresh", count=max(1, now[0] - seen[0])), key="gallery-refresh"):
        st.rerun()
    if pending != busy:
        st.rerun()  # poll at the other pace


def outputs_page(current: GalleryQuery) -> None:
    """One page of outputs, drawn once per page run."""
    outputs, total = query(store, code, current, include_hidden)
    st.caption(tr("gallery.count", total=total, page=current.offset // PAGE_SIZE + 1,
                  pages=max(1, math.ceil(total / PAGE_SIZE))))
    if not outputs:
        st.info(tr("gallery.empty"))
        return
    notes = annotations(store, code, [o["id"] for o in outputs])
    for output in outputs:
        note = notes[output["id"]]
        output_card(output, show_student=True)
        if note["starred"]:
            st.text(tr("gallery.starred_mark"))
        if note["hidden"]:
            st.text(tr("gallery.hidden_mark"))
        if note["comment"]:
            st.text(tr("gallery.comment_mark", comment=note["comment"]))
        if token:
            moderation_controls(output, note)


with outputs_tab:
    busy = store.pending_count(code) > 0
    st.fragment(run_every=GALLERY_POLL_SECONDS[busy])(gallery_watch)(class_version(store, code), busy)
    outputs_page(current)

stats = class_stats(store, code, include_hidden)  # read once for the groups and the charts

with groups_tab:
    differ = st.checkbox(tr("gallery.differ"), disabled=not prompt)
    summaries = group_summaries(store, code, stats, lab)
    if differ and prompt:
        keep = groups_differing_from_greedy(store, code, prompt, include_hidden)
        summaries = [s for s in summaries if s["key"] in keep]
    check_names = sorted({name for s in summaries for name in s["checks"]})
    st.dataframe(pd.DataFrame([{tr("col.label"): s["label"], tr("col.count"): s["count"],
                                tr("col.median_tokens"): s["median_tokens"], tr("col.distinct_2"): s["distinct_2"],
                                tr("col.loop_rate"): s["loop_rate"],
                                **{tr(f"check.{n}"): s["checks"].get(n) for n in check_names}} for s in summaries]),
                 hide_index=True)

with charts_tab:
    data = chart_rows(stats)
    st.subheader(tr("chart.temperature"))
    if data["temperature"]:
        frame = pd.DataFrame(data["temperature"]).melt("temperature", ["distinct_2", "loop_rate"], "metric")
        st.altair_chart(alt.Chart(frame).mark_line(point=True).encode(
            x="temperature:Q", y="value:Q", color="metric:N"), width="stretch")
    else:
        st.info(tr("chart.empty"))
    st.subheader(tr("chart.penalty"))
    if data["penalty"]:
        st.altair_chart(alt.Chart(pd.DataFrame(data["penalty"])).mark_line(point=True).encode(
            x="repetition_penalty:Q", y="tokens:Q"), width="stretch")
    else:
        st.info(tr("chart.empty"))
    st.subheader(tr("chart.checks"))
    if data["checks"]:
        st.altair_chart(alt.Chart(pd.DataFrame(data["checks"])).mark_rect().encode(
            x="check:N", y="variant:N", color=alt.Color("rate:Q", scale=alt.Scale(domain=[0, 1])),
            tooltip=["variant", "check", "rate", "outputs"]), width="stretch")
    else:
        st.info(tr("chart.empty"))

with compare_tab:
    outputs, _ = query(store, code, current, include_hidden)
    if len(outputs) < 2:
        st.info(tr("gallery.need_two"))
    else:
        names = {f"{o['student']} · {o['label']} · {o['text'][:30]}": o for o in outputs}
        left, right = st.columns(2)
        first = names[left.selectbox(tr("gallery.left"), list(names), index=0, key="cmp-a")]
        second = names[right.selectbox(tr("gallery.right"), list(names), index=1, key="cmp-b")]
        with left:
            output_card(first, show_student=True)
        with right:
            output_card(second, show_student=True)
        st.text(tr("gallery.diff"))
        st.text(word_diff(first["text"], second["text"]))

with spotlight_tab:
    st.html("<style>.st-key-spotlight [data-testid='stText'], .st-key-spotlight [data-testid='stText'] * "
            "{font-size: 1.6rem !important; line-height: 1.4;}</style>")  # static CSS: model text stays in st.text
    starred = spotlight(store, code)
    if not starred:
        st.info(tr("spotlight.empty"))
    with st.container(key="spotlight"):
        for output in starred:
            st.text(output["label"])
            st.text(output["text"])
            st.text(tr("common.with_seed", who=output["student"], seed=output["seed"]))
            st.divider()
