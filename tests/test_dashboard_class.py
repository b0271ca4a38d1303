"""What the class sees is right and alive (issue 22): streamed text, prompts on every card, the history
following the page, cancelled as its own state, the queue banner. AppTest pages against the real Redis;
where a worker's part matters, a real worker process."""

from __future__ import annotations

from rq import Queue

from shared.services.cancel import cancel
from shared.services.gallery import publish
from shared.services.moderation import failed_submissions, instructor_token, requeue_failed, set_star
from shared.services.submit import submit
from shared.services.validation import build_request
from tests.conftest import TEST_CLASS, wait_for
from tests.test_dashboard import app_env, joined_app, texts  # noqa: F401 - app_env is a fixture
from tests.test_gallery import make_output, store_outputs


def decoding_app(name="ana", lang="es"):
    app = joined_app(name=name, lang=lang)
    app.switch_page("views/decoding.py").run()
    return app


def test_a_running_submission_shows_each_text_as_it_grows_and_a_finished_one_complete(app_env, store):
    from shared.contract.records import PartialText

    app = decoding_app()
    app.button(key="run").click().run()  # the notebook's three presets; no worker: it waits
    submission = app.session_state.current_submission
    store.mark_running(submission, "w")  # what a worker publishes at its progress pace
    store.set_progress({submission: 9}, {submission: [
        PartialText(0, " with Goliath. This", 4, done=True), PartialText(1, "The robots", 3),
        PartialText(2, "", 0)]})
    app.run()
    shown = texts(app)
    assert shown.count("Prompt: «In a distant future, humans and AI»") == 3  # every card tells its prompt
    assert any(t.strip() == "with Goliath. This" for t in shown) and "✓ terminada · 4 tokens" in shown  # complete at once
    assert "The robots ▍" in shown and "escribiendo… 3 tokens" in shown      # still being written
    assert "▍" in shown                                                      # not started yet
    assert not any("Listo en" in s.value for s in app.success)


def test_the_history_shows_the_submission_on_the_page_after_every_new_run(app_env, store):
    app = decoding_app(name="Ines")
    for _ in range(3):  # three queued submissions (the limit): every new one is the one shown
        app.button(key="run").click().run()
        current = app.session_state.current_submission
        if len(store.student_submissions(TEST_CLASS, app.session_state.student)) > 1:
            picked = app.selectbox(key="history").value
            assert picked.startswith(label_time(store, current)) and "en cola" in picked
    publish(store, store.submission(current).request, [])  # a worker finished it
    app.run()
    assert "listo" in app.selectbox(key="history").value
    first = store.student_submissions(TEST_CLASS, app.session_state.student)[-1]
    app.selectbox(key="history").select(app.selectbox(key="history").options[-1]).run()
    assert app.session_state.current_submission == first  # picking one shows it, no second button


def label_time(store, submission_id: str) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(store.submission(submission_id).created_at))


def test_a_job_a_worker_just_took_reads_starting_never_position_unknown(app_env, settings, store):
    app = decoding_app(lang="en")
    app.button(key="run").click().run()
    Queue(settings.queue_name(), connection=store.redis).pop_job_id()  # taken, not yet marked running
    app.run()
    banners = [i.value for i in app.info]
    assert any(b.startswith("Starting: a worker has just taken") for b in banners), banners
    assert not any("?" in b for b in banners)


def test_cancelled_is_its_own_state_never_a_failure_and_never_requeued(app_env, settings, store, workers):
    app = decoding_app(name="Uma", lang="en")
    configs = [{"strategy": "sampling", "max_new_tokens": 900}] * 3  # long enough to cancel while it runs
    request = build_request(settings, class_code=TEST_CLASS, student="Uma", student_id=app.session_state.student,
                            prompt="Hello", configs=configs, seed=1, model=settings.model)
    submit(store, settings, request)
    workers.start(DECODELAB_TORCH_THREADS="1")
    wait_for(lambda: store.status(request.id) == "running", timeout=120, message="the run to start")
    assert cancel(store, request.id, app.session_state.student)
    wait_for(lambda: store.status(request.id) == "cancelled", timeout=60, message="the worker to end it")
    app.session_state.current_submission = request.id
    app.run()
    assert any("You cancelled this submission" in i.value for i in app.info) and not app.error
    token = instructor_token(settings, settings.instructor_password)
    assert failed_submissions(store, settings, settings.model) == []  # the console lists no failure
    assert requeue_failed(store, settings, token, settings.model) == 0
    assert store.status(request.id) == "cancelled" and store.submission(request.id).attempts == 1


def test_every_gallery_card_and_the_projector_show_the_prompt_before_the_text(app_env, store, settings):
    store_outputs(store, [make_output(0, prompt="In a distant future, humans and AI", text="with Goliath."),
                          make_output(1, prompt="Once upon a time " * 20, text=" there was")])
    set_star(store, settings, instructor_token(settings, settings.instructor_password), TEST_CLASS, "s0:0", True)
    app = joined_app(name="bob", lang="en")
    app.switch_page("views/gallery.py").run()
    shown = texts(app)
    assert "Prompt: “In a distant future, humans and AI”" in shown
    long_prompt = [t for t in shown if t.startswith("Prompt: “Once upon a time")]
    assert long_prompt and long_prompt[0].endswith("…”") and len(long_prompt[0]) < 110  # shortened
    assert any(e.label == "Full prompt" for e in app.expander)                           # the rest a click away
    order = shown[::-1]  # the projector is drawn last: its prompt, then its text
    assert order.index("with Goliath.") < order.index("Prompt: “In a distant future, humans and AI”")


def test_a_cached_greedy_card_shows_this_students_seed_and_says_greedy_ignores_it(app_env, store):
    from devtools.factories import make_request
    from shared.contract.decoding import DecodingConfig
    from shared.contract.records import Item
    from worker.outputs import cached_copy

    marias = make_output(5, strategy="greedy", student="María", seed=79830)
    toms = make_request(TEST_CLASS, id="tom1", student="Tom",
                        items=[Item(prompt="P", config=DecodingConfig(strategy="greedy"), seed=12)])
    copy = cached_copy(marias, toms, 0)
    assert copy.seed == 12 and copy.student == "Tom" and copy.text == marias.text
    publish(store, toms, [copy])
    app = joined_app(name="bob", lang="en")
    app.switch_page("views/gallery.py").run()
    assert any(t.startswith("seed 12 (greedy ignores it) · Tom") for t in texts(app)), texts(app)


def explorer_with_a_penalty():
    import numpy as np

    from dashboard.lab_widgets import explorer_chart
    from shared.teaching.explorer import reshape, top_table

    names = {0: ",", 1: "with", 2: "ah", 3: ".", 4: "the"}  # alphabetical order is not probability order
    logits = np.log(np.array([0.30, 0.25, 0.20, 0.15, 0.10], dtype=np.float32))
    shaped = reshape(logits, [0], top_k=3, repetition_penalty_value=3.0)  # "," was said: penalised
    explorer_chart(top_table(shaped, names.get, count=5))


def test_the_explorer_bars_go_from_most_to_least_likely_with_the_cut_as_a_tail(app_env):
    import json

    from streamlit.testing.v1 import AppTest

    app = AppTest.from_function(explorer_with_a_penalty, default_timeout=60)
    app.session_state.lang = "en"
    app.run()
    spec = json.loads(app.get("vega_lite_chart")[0].proto.spec)
    for layer in spec["layer"]:
        assert layer["encoding"]["x"]["sort"] == ["with", "ah", ".", "the", ","]  # kept three, the cut, "," last


def test_the_penalty_chart_plots_repetition_and_the_heatmap_names_every_check(app_env, store):
    import json

    checks = {name: i % 2 == 0 for i, name in enumerate(
        ("three_bullets", "mentions_topic", "tone", "word_limit", "valid_json", "no_jargon", "examples"))}
    from dataclasses import replace

    def with_penalty(output, penalty):
        return replace(output, effective_config=replace(output.effective_config, repetition_penalty=penalty))

    store_outputs(store, [with_penalty(make_output(0, loop=True, distinct=0.3), 1.0),
                          with_penalty(make_output(1, loop=False, distinct=0.9), 1.5),
                          make_output(2, lab="ablation", variant="full", checks=checks)])
    app = joined_app(name="bob", lang="en")
    app.switch_page("views/gallery.py").run()
    specs = [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]
    penalty = [s for s in specs if s.get("encoding", {}).get("x", {}).get("field") == "repetition_penalty"][0]
    assert penalty["encoding"]["y"]["field"] == "value"  # distinct-2 and loop rate, not the length
    heatmap = [s for s in specs if "layer" in s and s["layer"][0]["mark"]["type"] == "rect"][0]
    axis = heatmap["layer"][0]["encoding"]["y"]
    assert axis["field"] == "check" and axis["axis"]["labelOverlap"] is False  # no check label dropped


def test_the_csv_export_says_when_as_iso_8601_with_its_zone(store, settings):
    import csv
    import io
    import re
    from datetime import datetime

    from shared.services.moderation import export_csv, export_rows

    store_outputs(store, [make_output(0, finished_at=1796219054.72)])
    rows = export_rows(store, settings, instructor_token(settings, settings.instructor_password), TEST_CLASS)
    finished = next(csv.DictReader(io.StringIO(export_csv(rows))))["finished_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", finished), finished
    assert datetime.fromisoformat(finished).timestamp() == 1796219054


def test_the_json_checks_reason_reads_in_spanish_too():
    from shared.teaching.checks import check_detail, valid_json

    for text in ("not json", '{"a": 1,}', '{"a" 1}', '{"a": 1} extra'):
        result = valid_json(text).to_dict()
        spanish, english = check_detail(result, "es"), check_detail(result, "en")
        assert "Expecting" not in spanish and "Extra data" not in spanish, spanish
        assert spanish.startswith("JSON no válido") and "Expecting" not in english and "1" in english


def test_the_decoding_table_shows_top_k_as_it_runs_and_every_column_fits(app_env):
    import json
    import math

    app = decoding_app(lang="en")
    table = app.dataframe[0]  # the configurations' data editor
    rows = table.value.to_dict("records")
    assert [row["top_k"] for row in rows] == [0, 50, 50]  # greedy: no cut; sampling: transformers' 50
    assert not any(isinstance(v, float) and math.isnan(v) for row in rows for v in row.values())
    columns = json.loads(table.proto.columns)
    assert "0 = no top-k" in columns["top_k"]["label"]
    assert sum(c.get("width", 0) for c in columns.values()) <= 880  # seven columns, the seed too, in 1400 px
    assert all(isinstance(columns[name].get("width"), int) for name in ("top_k", "seed"))


def test_a_reload_opens_the_form_that_made_the_results_on_screen(app_env, store):
    from streamlit.testing.v1 import AppTest

    from tests.test_dashboard import APP

    app = decoding_app(name="Flor", lang="en")
    app.text_area(key="prompt").input("Hola clase")
    app.selectbox(key="sweep").select("Temperature 0.1 / 0.7 / 1.5").run()
    app.button(key="run").click().run()
    shown = app.session_state.current_submission
    reloaded = AppTest.from_file(APP, default_timeout=60)  # F5: a new session, signed in by its token
    for key in ("lang", "class_code", "student", "student_label", "membership"):
        reloaded.session_state[key] = app.session_state[key]
    reloaded.run().switch_page("views/decoding.py").run()
    assert reloaded.session_state.current_submission == shown
    assert reloaded.text_area(key="prompt").value == "Hola clase"
    assert reloaded.selectbox(key="sweep").value == "Temperature 0.1 / 0.7 / 1.5"
    table = reloaded.dataframe[0].value
    assert list(table["temperature"]) == [0.1, 0.7, 1.5]


def test_the_gallery_filters_offer_only_the_chosen_labs_entries_sorted_and_in_the_readers_language(app_env, store):
    from shared.contract.decoding import DecodingConfig
    from shared.contract.records import Item, gallery_group

    no_cut = DecodingConfig(strategy="sampling", top_k=0)
    group, label = gallery_group("decoding", Item("P", no_cut, 3), "m")
    store_outputs(store, [make_output(0, temperature=1.5, prompt="Zebra prompt"),
                          make_output(1, temperature=0.3, prompt="Apple prompt"),
                          make_output(2, lab="ablation", variant="full", prompt="Write about Git"),
                          make_output(3, config=no_cut, effective_config=no_cut.effective(), group_key=group,
                                      label=label)])
    app = joined_app(name="bob", lang="es")
    app.switch_page("views/gallery.py").run()
    configs = app.selectbox(key="f-group").options[1:]
    assert configs == sorted(configs, key=str.casefold) and len(configs) == 4
    assert any("sin top-k" in c for c in configs) and not any("no top-k" in c for c in configs)
    app.selectbox(key="f-lab").select("Ablación de prompts").run()
    assert [c for c in app.selectbox(key="f-group").options[1:]] == ["full · sampling · T 1 · top-k 50 · rep 1.1 · 80 tok · m"]
    assert app.selectbox(key="f-prompt").options[1:] == ["Write about Git"]
    app.selectbox(key="f-lab").select("Decodificación").run()
    assert app.selectbox(key="f-prompt").options[1:] == ["Apple prompt", "P", "Zebra prompt"]


def test_compare_never_sets_an_output_against_itself(app_env, store):
    store_outputs(store, [make_output(i) for i in range(3)])
    app = joined_app(name="bob", lang="en")
    app.switch_page("views/gallery.py").run()
    left, right = app.selectbox(key="cmp-a"), app.selectbox(key="cmp-b")
    left.select(right.value).run()  # the left one takes the right one's place
    assert app.selectbox(key="cmp-a").value != app.selectbox(key="cmp-b").value
    assert app.selectbox(key="cmp-a").value not in app.selectbox(key="cmp-b").options


# Characters that Debian's chromium draws as empty boxes without an emoji font (as on many classroom
# PCs): everything in the emoji planes, the emoji variation selector, and the BMP symbols whose default
# presentation is emoji (Unicode's Emoji_Presentation=Yes below U+10000).
EMOJI_PRESENTATION_BMP = {0x231A, 0x231B, *range(0x23E9, 0x23ED), 0x23F0, 0x23F3, 0x25FD, 0x25FE, 0x2614, 0x2615,
                          *range(0x2648, 0x2654), 0x267F, 0x2693, 0x26A1, 0x26AA, 0x26AB, 0x26BD, 0x26BE, 0x26C4,
                          0x26C5, 0x26CE, 0x26D4, 0x26EA, 0x26F2, 0x26F3, 0x26F5, 0x26FA, 0x26FD, 0x2705, 0x270A,
                          0x270B, 0x2728, 0x274C, 0x274E, 0x2753, 0x2754, 0x2755, 0x2757, 0x2795, 0x2796, 0x2797,
                          0x27B0, 0x27BF, 0x2B1B, 0x2B1C, 0x2B50, 0x2B55, 0xFE0F}


def emoji_in(text: str) -> list[str]:
    return [ch for ch in text if ord(ch) >= 0x1F000 or ord(ch) in EMOJI_PRESENTATION_BMP]


def test_no_emoji_anywhere_a_page_draws_text():
    from pathlib import Path

    from dashboard.texts import EVERY_TEXT

    found = {key: emoji_in(text) for key, entry in EVERY_TEXT.items() for text in entry.values() if emoji_in(text)}
    root = Path(__file__).resolve().parent.parent
    for source in sorted((root / "dashboard").rglob("*.py")):
        if emoji_in(source.read_text()):
            found[str(source.relative_to(root))] = emoji_in(source.read_text())
    assert not found, found


def test_check_marks_are_a_symbol_and_a_word_not_colour_alone():
    from dashboard.texts import t

    for lang in ("es", "en"):
        passed, failed = t("check.passed", lang), t("check.failed", lang)
        assert passed[0] == "✔" and failed[0] == "✘" and passed[2:] and failed[2:] and passed[2:] != failed[2:]
