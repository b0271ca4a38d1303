"""shared/services/gallery.py and shared/services/moderation.py against a real Redis: indexes, filters, rights, export."""

from dataclasses import replace

import pytest

from devtools import factories
from shared.services.gallery import (
    GalleryQuery,
    chart_rows,
    class_stats,
    group_summaries,
    groups_differing_from_greedy,
    prompt_hash,
    query,
    word_diff,
)
from shared.services.moderation import (
    NotAllowed,
    Note,
    annotations,
    export_csv,
    export_rows,
    instructor_token,
    is_member,
    membership_token,
    set_comment,
    set_hidden,
    set_star,
    spotlight,
)
from tests.conftest import TEST_CLASS


def make_output(index, class_code=TEST_CLASS, **fields):
    return factories.make_output(index, class_code, **fields)


def store_outputs(store, outputs):
    factories.store_outputs(store, outputs)


def ids(outputs):
    return [o.id for o in outputs]


def test_filters_sorting_pages_and_search(store):
    store_outputs(store, [make_output(i, student="ana" if i % 2 else "bob", temperature=0.3 if i < 5 else 1.5,
                                      perplexity=100 - i) for i in range(10)])
    page, total = query(store, TEST_CLASS, GalleryQuery(limit=4))
    assert total == 10 and ids(page) == ["s9:0", "s8:0", "s7:0", "s6:0"]  # newest first
    page, _ = query(store, TEST_CLASS, GalleryQuery(limit=4, offset=8))
    assert ids(page) == ["s1:0", "s0:0"]
    page, total = query(store, TEST_CLASS, GalleryQuery(student="bob", group=make_output(0, temperature=0.3).group_key))
    assert total == 3 and ids(page) == ["s4:0", "s2:0", "s0:0"]
    page, _ = query(store, TEST_CLASS, GalleryQuery(sort="perplexity", descending=False, limit=2))
    assert ids(page) == ["s9:0", "s8:0"]
    page, _ = query(store, TEST_CLASS, GalleryQuery(search="NUMBER 7"))
    assert ids(page) == ["s7:0"]
    page, total = query(store, TEST_CLASS, GalleryQuery(prompt=prompt_hash("P"), lab="ablation"))
    assert total == 0 and page == []


def test_only_the_instructor_stars_hides_and_comments_and_students_then_see_it(store, settings):
    store_outputs(store, [make_output(i) for i in range(3)])
    with pytest.raises(NotAllowed):
        set_hidden(store, settings, "forged-token", TEST_CLASS, "s1:0", True)
    with pytest.raises(NotAllowed):
        set_star(store, settings, None, TEST_CLASS, "s1:0", True)
    with pytest.raises(NotAllowed):
        export_rows(store, settings, "", TEST_CLASS)
    assert instructor_token(settings, "wrong") is None
    token = instructor_token(settings, settings.instructor_password)
    set_hidden(store, settings, token, TEST_CLASS, "s1:0", True)
    set_star(store, settings, token, TEST_CLASS, "s2:0", True)
    set_comment(store, settings, token, TEST_CLASS, "s2:0", "Mirad la repetición <b>aquí</b>")
    student_view, total = query(store, TEST_CLASS, GalleryQuery())
    assert ids(student_view) == ["s2:0", "s0:0"] and total == 2
    assert len(query(store, TEST_CLASS, GalleryQuery(), include_hidden=True)[0]) == 3
    assert annotations(store, TEST_CLASS, ["s2:0"])["s2:0"] == Note(starred=True, hidden=False,
                                                                     comment="Mirad la repetición <b>aquí</b>")
    assert ids(spotlight(store, TEST_CLASS)) == ["s2:0"]
    assert len(class_stats(store, TEST_CLASS)) == 2 and len(class_stats(store, TEST_CLASS, True)) == 3
    set_hidden(store, settings, token, TEST_CLASS, "s1:0", False)  # reversible, nothing was deleted
    assert query(store, TEST_CLASS, GalleryQuery())[1] == 3
    rows = export_rows(store, settings, token, TEST_CLASS)
    assert [r["id"] for r in rows] == ["s0:0", "s1:0", "s2:0"]
    assert rows[2]["starred"] and rows[2]["comment"].startswith("Mirad") and rows[0]["temperature"] == 1.0
    csv_text = export_csv(rows)
    assert csv_text.splitlines()[0].startswith("id,student,lab,variant,model") and "s2:0" in csv_text


def test_membership_tokens_bind_a_student_to_one_class(store, settings):
    token = membership_token(store, settings, TEST_CLASS, "ana")
    assert is_member(store, settings, TEST_CLASS, "ana", token)
    assert not is_member(store, settings, "otra-clase", "ana", token)
    assert not is_member(store, settings, TEST_CLASS, "bob", token)
    assert not is_member(store, settings, TEST_CLASS, "ana", None)


def test_summaries_charts_diff_and_greedy_comparison(store):
    outputs = [
        make_output(0, strategy="greedy", text="the same words"), make_output(1, strategy="greedy", text="the same words"),
        make_output(2, temperature=0.3, text="the same words", tokens=12),
        make_output(3, temperature=1.5, text="other words entirely", loop=True, distinct=0.5),
        make_output(4, lab="ablation", variant="full", checks={"three_bullets": True}),
        make_output(5, lab="ablation", variant="topic_only", checks={"three_bullets": False}),
    ]
    store_outputs(store, outputs)
    stats = class_stats(store, TEST_CLASS)
    summaries = {s.key: s for s in group_summaries(store, TEST_CLASS, stats)}
    greedy, hot, full, topic_only = (outputs[i].group_key for i in (0, 3, 4, 5))
    assert summaries[greedy].count == 2 and summaries[hot].loop_rate == 1.0
    assert summaries[greedy].label == "greedy · rep 1.1 · 80 tok · m"
    assert summaries[full].checks == {"three_bullets": 1.0} and summaries[full].label.startswith("full · ")
    assert groups_differing_from_greedy(store, TEST_CLASS, prompt_hash("P")) == {hot, full, topic_only}
    charts = chart_rows(stats)
    assert [(r["temperature"], r["loop_rate"]) for r in charts.temperature] == [(0.3, 0.0), (1.5, 1.0)]
    assert {(r["variant"], r["rate"]) for r in charts.checks} == {("full", 1.0), ("topic_only", 0.0)}
    assert word_diff("the cat sat", "the dog sat down") == "the [-cat-] {+dog+} sat {+down+}"


def test_the_roster_counts_submissions(store, settings):
    from shared.services.classes import join_class
    from shared.services.roster import roster
    from shared.services.submit import submit
    from tests.test_batch_worker import notebook_request

    ana = join_class(store, TEST_CLASS, "ana")
    join_class(store, TEST_CLASS, "bob")
    for seed in (1, 2):
        submit(store, settings, replace(notebook_request(settings, student="ana", seed=seed), student_id=ana.id))
    assert [(r.label, r.submissions) for r in roster(store, TEST_CLASS)] == [("ana", 2), ("bob", 0)]


def test_hidden_outputs_leave_no_prompt_or_variant_in_the_students_filter_lists(store, settings):
    from shared.services.gallery import class_groups, class_prompts

    store_outputs(store, [make_output(0, prompt="a kind prompt", lab="ablation", variant="full"),
                          make_output(1, prompt="an insulting prompt", lab="ablation", variant="rude-variant")])
    token = instructor_token(settings, settings.instructor_password)
    set_hidden(store, settings, token, TEST_CLASS, "s1:0", True)
    student_prompts = set(class_prompts(store, TEST_CLASS).values())
    student_groups = " ".join(class_groups(store, TEST_CLASS).values())
    assert student_prompts == {"a kind prompt"} and "rude-variant" not in student_groups and "full" in student_groups
    assert set(class_prompts(store, TEST_CLASS, include_hidden=True).values()) == {"a kind prompt",
                                                                                   "an insulting prompt"}
    assert "rude-variant" in " ".join(class_groups(store, TEST_CLASS, include_hidden=True).values())
    set_hidden(store, settings, token, TEST_CLASS, "s1:0", False)
    assert len(class_prompts(store, TEST_CLASS)) == 2
