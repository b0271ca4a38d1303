"""bench/st_client.py, the load test's browser-less student, against the real stack (Redis, a random-tiny
worker, `streamlit run`): it joins, presses Run as the browser does (a fragment rerun; a full run when
the prompt was typed with the press) and sees the results; the page runs what the form says."""

from __future__ import annotations

import asyncio

import pytest

from bench.st_client import Tab
from tests.conftest import TEST_CLASS, wait_for

FIRST_ANSWER = "En cola: posición|Generando…|Listo en"


async def joined(url: str) -> Tab:
    from bench.load_dashboard_protocol import join

    tab = await join(url, 0, 60, TEST_CLASS)
    assert any(text.startswith("Estrategias de decodificación") for text in tab.texts())
    try:
        await tab.wait_text(r"worker\(s\) listos", 60)
    except TimeoutError:
        raise AssertionError(f"no worker shown ready: {tab.texts()} {list(tab.autoreruns)} {tab.running}") from None
    return tab


async def press_run(tab: Tab):
    """Press Run; the seconds to the first answer and to the results, and the message the press sent."""
    first, results = tab.watch(FIRST_ANSWER), tab.watch("Listo en")
    tab.sent = []
    pressed = await tab.press("Ejecutar")
    message = tab.sent[0].rerun_script
    return await asyncio.wait_for(first, 30) - pressed, await asyncio.wait_for(results, 120) - pressed, message


def test_a_protocol_student_joins_runs_the_presets_and_sees_them(dashboard_url, store):
    async def flow():
        tab = await joined(dashboard_url)
        first, done, press = await press_run(tab)
        assert 0 < first <= done
        assert press.fragment_id  # as the browser: the Run button's fragment, not the page
        assert any(w.trigger_value for w in press.widget_states.widgets)
        await tab.wait_for(lambda: tab.settled() and "Resultados" in tab.texts(), 60)
        [submission] = store.student_submissions(TEST_CLASS, "s1")
        outputs = store.submission_outputs(submission)
        assert len(outputs) == 3
        assert all(o.text.strip() in tab.texts() for o in outputs if o.text.strip())
        assert store.submission(submission).request.prompt == "In a distant future, humans and AI"
        await tab.close()

    asyncio.run(flow())


def test_a_prompt_typed_with_the_press_is_a_full_run_and_is_what_runs(dashboard_url, store):
    async def flow():
        tab = await joined(dashboard_url)
        tab.type("Prompt", "Hola mundo")
        *_, press = await press_run(tab)
        assert not press.fragment_id  # the browser sends typing + press as one full run
        [submission] = store.student_submissions(TEST_CLASS, "s1")
        assert store.submission(submission).request.prompt == "Hola mundo"
        await tab.close()

    asyncio.run(flow())


def test_a_press_sent_with_a_changed_seed_runs_the_new_table(dashboard_url, store):
    """A fragment press whose message also changes a widget outside the fragment (here the seed) must
    not run the table the page drew before: the press is carried over to a full run."""
    async def flow():
        tab = await joined(dashboard_url)
        _, seed = tab.find("number_input", "Semilla")
        tab.values[seed.id] = {"int_value": 1234}  # not marked as typed: the press stays a fragment rerun
        *_, press = await press_run(tab)
        assert press.fragment_id
        [submission] = store.student_submissions(TEST_CLASS, "s1")
        request = store.submission(submission).request
        assert {item.seed for item in request.items} == {1234}
        await tab.close()

    asyncio.run(flow())


async def on_ablation(url: str) -> Tab:
    tab = await joined(url)
    await tab.click_link("Ablación de prompts")
    await tab.wait_for(lambda: tab.settled() and tab.has("button", "Ejecutar") and tab.has("number_input", "Semilla"),
                       60)
    return tab


def test_an_ablation_press_reruns_only_its_fragment_and_runs_the_form_as_drawn(dashboard_url, store):
    async def flow():
        tab = await on_ablation(dashboard_url)
        tab.sent = []
        await tab.press("Ejecutar")
        assert tab.sent[0].rerun_script.fragment_id  # the Run/results fragment, not the page
        wait_for(lambda: len(store.student_submissions(TEST_CLASS, "s1")) == 1, 30, message="the submission")
        [submission] = store.student_submissions(TEST_CLASS, "s1")
        request = store.submission(submission).request
        assert request.lab == "ablation" and {item.variant for item in request.items} >= {"full", "topic_only"}
        await tab.close()

    asyncio.run(flow())


@pytest.mark.xfail(strict=False, reason="open: in a fresh clone the press's fragment rerun reaches the server after a "
                   "full rerun that did not register the fragment (\"Couldn't find fragment\" in streamlit.log), and no "
                   "submission is made; it passes in a long-lived checkout. Found at the merge of issues 20-25; not yet "
                   "diagnosed")
def test_an_ablation_press_sent_with_a_changed_seed_runs_the_new_form(dashboard_url, store):
    async def flow():
        tab = await on_ablation(dashboard_url)
        _, seed = tab.find("number_input", "Semilla")
        tab.values[seed.id] = {"int_value": 4321}  # not marked as typed: the press stays a fragment rerun
        tab.sent = []
        await tab.press("Ejecutar")
        assert tab.sent[0].rerun_script.fragment_id
        wait_for(lambda: len(store.student_submissions(TEST_CLASS, "s1")) == 1, 30, message="the submission")
        [submission] = store.student_submissions(TEST_CLASS, "s1")
        assert min(item.seed for item in store.submission(submission).request.items) == 4321
        await tab.close()

    asyncio.run(flow())


def test_the_load_test_runs_in_protocol_mode():
    from bench.load_dashboard import main

    assert main(["--client", "protocol", "--students", "2", "--measure", "1", "--timeout", "120"]) == 0
