"""Issue #13 in Streamlit's AppTest: the gallery, the cards and the instructor console as a class uses
them on a projector (real Redis; outputs stored through the store as a worker stores them)."""

import json

import numpy as np
import pyarrow as pa

from tests.test_dashboard import app_env, joined_app, new_app, texts  # noqa: F401 - app_env is a fixture
from tests.test_gallery import make_output, store_outputs


def chart_specs(app) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]


def chart_rows(chart) -> list[dict]:
    return pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().to_pylist()


def gallery(lang="en", name="bob"):
    app = joined_app(name=name, lang=lang)
    return app.switch_page("views/gallery.py").run()


def both_labs(store):
    store_outputs(store, [make_output(0), make_output(1, temperature=0.7),
                          make_output(2, lab="ablation", variant="full", checks={"three_bullets": True})])


def test_gallery_charts_follow_the_lab_filter(app_env, store):
    both_labs(store)
    app = gallery()
    titles = [s.value for s in app.subheader]
    assert "Instruction pass rate by variant" in titles
    assert "distinct-2 and loop rate against repetition_penalty" in titles
    app.selectbox(key="f-lab").select("Decoding").run()
    titles = [s.value for s in app.subheader]
    assert "Instruction pass rate by variant" not in titles  # no ablation heatmap under Lab = decoding
    app.selectbox(key="f-lab").select("Prompt ablation").run()
    assert "distinct-2 and loop rate against temperature" not in [s.value for s in app.subheader]


def test_gallery_charts_and_groups_follow_the_student_filter(app_env, store):
    from shared.services.classes import join_class

    ana, bob = join_class(store, "clase-test", "ana"), join_class(store, "clase-test", "bob")
    store_outputs(store, [make_output(0, student="ana", temperature=0.3, student_id=ana.id),
                          make_output(1, student="bob", temperature=1.5, student_id=bob.id)])
    app = gallery(name="eve")
    app.selectbox(key="f-student").select("bob").run()
    temperature = [c for c in app.get("vega_lite_chart") if "temperature" in c.proto.spec][0]
    assert {row["temperature"] for row in chart_rows(temperature)} == {"1.5"}


def test_the_repetition_chart_reads_1_1_and_says_when_it_has_one_value(app_env, store):
    both_labs(store)
    app = gallery()
    spec = [s for s in chart_specs(app) if s.get("encoding", {}).get("x", {}).get("field") == "repetition_penalty"][0]
    assert spec["encoding"]["x"]["type"] == "ordinal" and spec["encoding"]["x"]["sort"] == ["1.1"]
    penalty = [c for c in app.get("vega_lite_chart") if "repetition_penalty" in c.proto.spec][0]
    assert {row["repetition_penalty"] for row in chart_rows(penalty)} == {"1.1"}  # never "1.100000"
    assert any("Only one repetition_penalty value" in c.value for c in app.caption)


def test_chart_headers_are_words_not_code_keys(app_env, store):
    both_labs(store)
    app = gallery(lang="es")
    temperature = [c for c in app.get("vega_lite_chart") if "temperatura" in c.proto.spec][0]
    assert {row["metric"] for row in chart_rows(temperature)} == {"distinct-2", "tasa de bucles"}
    spec = json.dumps(chart_specs(app))
    assert '"title": "temperatura"' in spec and "loop_rate" not in json.dumps(chart_rows(temperature))


def test_groups_table_shows_a_dash_for_an_empty_cell(app_env, store):
    both_labs(store)
    app = gallery(lang="es")
    groups = [d.value for d in app.dataframe if "configuración" in d.value.columns][0]
    assert "—" in list(groups["3 viñetas al final"])  # decoding groups have no check: a dash, not None
    assert not groups.isna().any().any()


def test_the_compare_pickers_reach_outputs_beyond_the_current_page(app_env, store):
    store_outputs(store, [make_output(i) for i in range(25)])  # 20 a page: s0..s4 are on page 2
    app = gallery()
    assert len(app.selectbox(key="cmp-a").options) == 25
    options = app.selectbox(key="cmp-b").options  # every one but the left one
    assert len(options) == 24 and any(o.endswith("#s0:0") for o in options)
    app.selectbox(key="cmp-b").select([o for o in options if o.endswith("#s0:0")][0]).run()
    assert "output number 0" in texts(app)


def test_the_diff_is_coloured_and_model_markup_stays_text(app_env, store):
    store_outputs(store, [make_output(0, text="the cat <script>alert(1)</script> sat"),
                          make_output(1, text="the dog <b>sat</b>")])
    app = gallery()
    body = [h.proto.body for h in app.get("html") if "line-through" in h.proto.body][0]
    assert "<script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>" not in body and "&lt;b&gt;" in body
    assert "line-through" in body and "underline" in body  # removed and added, told apart without colour too


def test_long_outputs_are_collapsed_with_show_all(app_env, store):
    long_text = "\n".join(f"line {i} of a long output" for i in range(40))
    store_outputs(store, [make_output(0, text=long_text)])
    app = gallery()
    shown = texts(app)
    collapsed = [t for t in shown if t.startswith("line 0 of") and t.endswith("…")]
    assert collapsed and collapsed[0].count("\n") == 5  # six lines, then "…"
    show_all = [e for e in app.expander if e.label.startswith("Show all")]
    assert show_all and [t.value for t in show_all[0].text] == [long_text] and shown.count(long_text) == 1


def test_cards_show_seed_and_plain_config_and_the_instructors_marks_inside(app_env, store, settings):
    from shared.services.moderation import instructor_token, set_comment, set_star

    store_outputs(store, [make_output(3, strategy="greedy")])
    token = instructor_token(settings, settings.instructor_password)
    set_star(store, settings, token, "clase-test", "s3:0", True)
    set_comment(store, settings, token, "clase-test", "s3:0", "Mirad el bucle")
    app = gallery(lang="es")
    card = [block for block in app.get("flex_container") if "output number 3" in [t.value for t in block.text]][0]
    inside = [t.value for t in card.text]
    assert inside[0] == "greedy · rep 1.1 · 80 tok · m"  # no temperature or top-k: greedy ignores them
    assert inside[1].startswith("semilla 3 (greedy no la usa) · ana · ")
    assert "★ destacada por el profesor/a" in inside and "✎ Mirad el bucle" in inside


def token_page():
    """The token view alone, on an output whose details the test stored."""
    from dashboard.common import get_store
    from dashboard.lab_widgets import token_view
    from devtools.factories import make_output

    token_view(get_store(), make_output(0, "clase-test", id="t:0", details_id="t:0"))


def test_the_token_view_keeps_small_probabilities_readable_and_counts_from_1(app_env, store):
    from streamlit.testing.v1 import AppTest

    small, tiny = 0.000123, 2.5e-7
    steps = [{"text": " the", "logprob": -0.1, "p": 0.9, "model": [[" the", 0.9], [" a", small]],
              "sampled": [[" the", 0.95]]},
             {"text": " cat", "logprob": float(np.log(small)), "p": tiny, "model": [[" dog", 0.5]], "sampled": []}]
    store.redis.set(store.keys.token_details("t:0"), json.dumps({"steps": steps}))  # as stored before token ids
    app = AppTest.from_function(token_page, default_timeout=60)
    app.session_state.lang = "en"
    app.run()
    tokens = app.dataframe[0]
    assert list(tokens.value.index) == [1, 2]  # as the "Token #" picker counts
    columns = json.loads(tokens.proto.columns)
    for name in ("p model", "p sampled"):
        fmt = columns[name]["type_config"]["format"]
        assert fmt == "%.2g" and ("%.3f" % small) == "0.000" != ("%.2g" % small)
    widths = [columns[name]["width"] for name in ("token", "p model", "p sampled")]
    assert sum(widths) + 45 <= 265  # with the index: the expander of a one-third card at 1400 px is ~270 px
    assert not app.columns  # before / after one under the other: they fit a one-third-width card
    assert [list(d.value.columns) for d in app.dataframe[1:]] == [["token", "p"], ["token", "p"]]


def console(settings, lang="en"):
    app = new_app(lang)
    app.switch_page("views/instructor.py").run()
    app.text_input(key="password").input(settings.instructor_password)
    app.button(key="login").click().run()
    return app


def test_console_shows_join_times_as_hours_and_headers_as_words(app_env, store, settings):
    import re

    from shared.services.classes import join_class

    join_class(store, "clase-test", "ana")
    app = console(settings, "es")
    students = [d.value for d in app.dataframe if "estudiante" in d.value.columns][0]
    assert list(students.columns) == ["estudiante", "id", "entró a las", "envíos"]
    assert re.fullmatch(r"\d\d:\d\d:\d\d", students["entró a las"][0])  # not epoch seconds


def test_console_workers_read_consistently_with_translated_headers(app_env, store, settings):
    from dataclasses import replace

    from shared.contract.records import WorkerInfo
    from shared.services.workers import announce

    info = WorkerInfo(name="w1", host="h", model=settings.model, device="cpu", dtype="float32", tokens_per_s=119.0,
                      in_flight=0, max_batch=8)
    announce(store, info, ttl=60)  # idle now, its moving average still from the last batch
    app = console(settings)
    workers = [d.value for d in app.dataframe if "tokens/s" in d.value.columns][0]
    assert "in_flight" not in workers.columns and "tokens_per_s" not in workers.columns
    assert workers["submissions in flight"][0] == 0 and workers["tokens/s"][0] == 0
    announce(store, replace(info, in_flight=3), ttl=60)
    app.run()
    workers = [d.value for d in app.dataframe if "tokens/s" in d.value.columns][0]
    assert workers["submissions in flight"][0] == 3 and workers["tokens/s"][0] == 119.0


def test_console_counts_what_waits_and_says_it_is_live(app_env, store, settings):
    from shared.contract.decoding import PRESETS
    from shared.services.submit import submit
    from shared.services.validation import build_request

    app = console(settings)
    assert any(f"Queue of model {settings.model}: 0 waiting · 0 running" in t for t in texts(app))
    submit(store, settings, build_request(settings, class_code="clase-test", student="ana", prompt="hi", seed=1,
                                          configs=[PRESETS["greedy"].to_dict()], model=settings.model))
    app.run()
    assert any(f"Queue of model {settings.model}: 1 waiting" in t for t in texts(app))
    assert any(c.value.startswith("Live: refreshes every 2 s") for c in app.caption)  # busy: the fast pace


def test_closing_a_class_asks_first_and_a_closed_class_reopens(app_env, store, settings):
    from shared.services.classes import is_open

    app = console(settings)
    [b for b in app.button if b.key == "close-clase-test"][0].click().run()
    assert is_open(store, "clase-test")  # not yet: the console asks
    assert any("Close class clase-test?" in w.value for w in app.warning)
    [b for b in app.button if b.key == "close-no-clase-test"][0].click().run()
    assert is_open(store, "clase-test") and not [b for b in app.button if b.key == "close-yes-clase-test"]
    [b for b in app.button if b.key == "close-clase-test"][0].click().run()
    [b for b in app.button if b.key == "close-yes-clase-test"][0].click().run()
    assert not is_open(store, "clase-test")
    [b for b in app.button if b.key == "reopen-clase-test"][0].click().run()
    assert is_open(store, "clase-test")


def test_a_student_of_a_closed_class_is_told_it_was_closed(app_env, store):
    from shared.services.classes import close_class

    close_class(store, "clase-test")
    app = joined_app(name="ana", lang="en")
    assert "class_code" not in app.session_state
    assert any("your instructor has closed it" in e.value for e in app.error)
    app = joined_app(name="ana", code="no-such-class", lang="en")
    assert any("does not exist" in e.value for e in app.error)


def explorer_page():
    import numpy as np

    from dashboard.lab_widgets import explorer_chart
    from shared.teaching.explorer import reshape, top_table

    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32))
    explorer_chart(top_table(reshape(logits, [], top_k=2), lambda i: f"t{i}", count=4))


def test_the_explorer_greys_removed_tokens_and_names_the_model_ticks(app_env):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_function(explorer_page, default_timeout=60)
    app.session_state.lang = "en"
    app.run()
    chart = app.get("vega_lite_chart")[0]
    spec = json.loads(chart.proto.spec)
    colour = spec["layer"][0]["encoding"]["color"]["scale"]
    assert colour["domain"] == ["kept", "removed", "model's probability (unchanged)"]  # one legend for all three
    bars = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().to_pylist()
    removed = [b for b in bars if b["series"] == "removed"]
    assert [b["token"] for b in removed] == ["t2", "t3"] and all(b["p"] > 0.04 for b in removed)  # visible, grey
    assert any("Black ticks" in c.value for c in app.caption)


def test_the_projector_view_shows_the_instructors_comment(app_env, store, settings):
    from shared.services.moderation import instructor_token, set_comment, set_star

    store_outputs(store, [make_output(0), make_output(1)])
    token = instructor_token(settings, settings.instructor_password)
    set_star(store, settings, token, "clase-test", "s1:0", True)
    set_comment(store, settings, token, "clase-test", "s1:0", "Fijaos en la repetición")
    app = gallery(lang="es")
    assert texts(app).count("✎ Fijaos en la repetición") == 2  # in its card and on the projector


def own_card_page():
    from dashboard.widgets import output_card
    from shared.services.moderation import Note
    from tests.test_gallery import make_output

    output_card(make_output(5), note=Note(starred=False, hidden=True, comment="Demasiado largo"), own=True)


def test_a_students_own_card_says_the_instructor_hid_it_and_shows_the_comment(app_env):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_function(own_card_page, default_timeout=60)
    app.session_state.lang = "es"
    app.run()
    shown = texts(app)
    assert "Tu profesor/a ocultó este resultado a la clase (tú lo sigues viendo)." in shown
    assert "✎ Demasiado largo" in shown and "oculta a los estudiantes" not in shown
