"""A real browser (Debian's chromium, driven by Playwright) against the real stack: Redis, a worker
with random-tiny, and `streamlit run`. Two students join and run the notebook's presets (the text grows
while it is generated), the explorer, the ablation; the instructor, in a third browser context, sees the
console, the gallery, compares and projects. Screenshots go to `artifacts/`.

Needs /usr/bin/chromium (`.ci/run` installs it with apt-get); skipped where it is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT, TEST_CLASS

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
                                reason="Debian chromium not installed (apt-get install -y chromium)")


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


WORDS = {  # what a person reads and clicks, per language
    "es": {"lang": "Español", "name": "Tu nombre", "code": "Código de clase", "join": "Entrar", "joined": "Estás en la clase",
           "decoding": "Decodificación", "ablation": "Ablación de prompts", "gallery": "Galería de la clase",
           "instructor": "Profesor/a", "run": "Ejecutar", "done": "Listo en", "tokens": "Tokens y probabilidades",
           "again": "Repetir exactamente", "cached": "respuesta de la caché", "samples": "Muestras por variante",
           "matrix": "Matriz de efectos", "password": "Contraseña", "login": "Entrar",
           "logged_in": "Sesión de profesor/a iniciada.", "star": "★ Destacar", "unstar": "☆ Quitar destacado",
           "compare": "Comparar", "spotlight": "Proyector", "ready": "1 worker(s) listos · random-tiny · cpu",
           "explore": "Calcular distribución", "workers": "Workers activos", "queue": "Cola del modelo random-tiny",
           "prompt": "Prompt: «In a distant future, humans and AI»", "writing": "escribiendo…",
           "pass": "✔ cumple", "fail": "✘ no cumple"},
    "en": {"lang": "English", "name": "Your name", "code": "Class code", "join": "Join", "joined": "You are in class",
           "decoding": "Decoding", "ablation": "Prompt ablation", "gallery": "Class gallery",
           "instructor": "Instructor", "run": "Run", "done": "Done in", "tokens": "Tokens and probabilities",
           "again": "Run again exactly", "cached": "answered from the cache", "samples": "Samples per variant",
           "matrix": "Effect matrix", "password": "Password", "login": "Log in",
           "logged_in": "Logged in as instructor.", "star": "★ Star", "unstar": "☆ Unstar",
           "compare": "Compare", "spotlight": "Spotlight", "ready": "1 worker(s) ready · random-tiny · cpu",
           "explore": "Compute distribution", "workers": "Live workers", "queue": "Queue of model random-tiny",
           "prompt": "Prompt: “In a distant future, humans and AI”", "writing": "writing…",
           "pass": "✔ pass", "fail": "✘ fail"},
}


def shot(page, name: str, full_page: bool = False) -> None:
    page.wait_for_timeout(1200)  # let every widget finish drawing before the picture
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)
    assert os.path.getsize(ARTIFACTS / name) > 10_000


def open_in(browser, url: str, lang: str):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url)
    if lang != "es":
        page.get_by_text(WORDS[lang]["lang"], exact=True).click()
        page.get_by_text(WORDS[lang]["name"]).first.wait_for(timeout=30_000)
    return page


def join(browser, url: str, lang: str, name: str):
    w = WORDS[lang]
    page = open_in(browser, url, lang)
    page.get_by_label(w["name"]).fill(name)
    page.get_by_label(w["code"], exact=True).fill(TEST_CLASS)
    page.get_by_role("button", name=w["join"], exact=True).click()
    page.get_by_text(w["joined"]).wait_for(timeout=30_000)
    return page


@contextmanager
def paused_mid_generation(store, workers, student_id: str = "s1", timeout: float = 60.0):
    """Hold the worker still (SIGSTOP) the moment the student's newest submission has its first words in
    Redis, and let it go on leaving the block. On an idle machine random-tiny writes the three presets'
    80 tokens in under a second, before the page's next poll: without the pause a quiet CI machine
    would never show a card being written."""
    deadline = time.monotonic() + timeout
    while not (submissions := store.student_submissions(TEST_CLASS, student_id)):
        assert time.monotonic() < deadline, "no submission"
        time.sleep(0.005)
    while not any(partial.text for partial in store.partial_texts(submissions[0])):
        assert time.monotonic() < deadline, "no streamed text"
        time.sleep(0.001)
    worker = workers.processes[0]
    worker.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        worker.send_signal(signal.SIGCONT)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_lesson_walkthrough_student_and_instructor(dashboard_url, browser, store, settings, workers, lang):
    """Students: join, reload, presets (streamed), explorer, token view, run again, ablation; a second
    student runs the presets too. Instructor: console, gallery, compare, spotlight. Every step in the
    students' language, with screenshots in artifacts/."""
    w = WORDS[lang]
    ARTIFACTS.mkdir(exist_ok=True)
    student = join(browser, dashboard_url, lang, "Lucía")
    student.reload()  # F5: a new Streamlit session, still signed in (the URL's session token), same language
    student.get_by_text(w["joined"]).wait_for(timeout=30_000)
    student.get_by_role("link", name=w["decoding"]).click()
    student.get_by_text(w["ready"]).wait_for(timeout=60_000)
    student.get_by_role("button", name=w["run"], exact=True).click()
    with paused_mid_generation(store, workers):  # the text so far, as the page shows it while it grows
        student.get_by_text(w["writing"]).first.wait_for(timeout=60_000)
        student.get_by_text(re.compile(r"\S ▍")).first.wait_for(timeout=60_000)
        student.get_by_text(w["writing"]).first.scroll_into_view_if_needed()
        shot(student, f"streaming-{lang}.png")
    student.get_by_text(w["done"]).wait_for(timeout=120_000)
    assert student.get_by_text(w["prompt"]).count() == 3  # every card tells its prompt
    student.get_by_text("sampling · T 0.3 · top-p 0.9 · top-k 50 · rep 1.1 · 80 tok · random-tiny").first.wait_for()
    student.get_by_text(w["done"]).scroll_into_view_if_needed()
    shot(student, f"decoding-{lang}.png")
    outputs = store.outputs([i.decode() for i in store.redis.zrange(store.keys.outputs(TEST_CLASS), 0, -1)])
    assert len(outputs) == 3 and {o.student for o in outputs} == {"Lucía"}

    student.get_by_role("button", name=w["explore"]).click()  # the next-token explorer's bars
    chart = student.locator("[data-testid='stVegaLiteChart']").first
    chart.wait_for(timeout=60_000)
    chart.scroll_into_view_if_needed()
    shot(student, f"explorer-{lang}.png")

    student.get_by_text(w["tokens"]).first.click()  # the token view, built only now
    tables = student.locator("[data-testid='stDataFrame']")
    tables.nth(1).wait_for(timeout=30_000)  # the first is the config table; then the tokens of output 1
    tables.nth(1).scroll_into_view_if_needed()
    shot(student, f"tokens-{lang}.png")
    student.get_by_role("button", name=w["again"]).nth(1).click()  # the new submission shows at once
    student.get_by_text(w["cached"]).wait_for(timeout=60_000)

    student.get_by_role("link", name=w["ablation"]).click()
    student.get_by_label(w["samples"]).fill("1")
    student.get_by_label("max_new_tokens").fill("40")
    student.get_by_role("button", name=w["run"], exact=True).click()
    student.get_by_text(w["matrix"]).wait_for(timeout=180_000)
    student.get_by_text(w["matrix"]).scroll_into_view_if_needed()
    shot(student, f"ablation-{lang}.png")

    student.get_by_text(w["pass"]).or_(student.get_by_text(w["fail"])).first.scroll_into_view_if_needed()
    shot(student, f"ablation-checks-{lang}.png")

    second = join(browser, dashboard_url, lang, "Tom")  # a second student runs the same presets
    second.get_by_role("link", name=w["decoding"]).click()
    second.get_by_role("button", name=w["run"], exact=True).click()
    second.get_by_text(w["done"]).wait_for(timeout=120_000)

    teacher = open_in(browser, dashboard_url, lang)
    teacher.get_by_role("link", name=w["instructor"]).click()
    teacher.get_by_label(w["password"], exact=True).fill(settings.instructor_password)
    teacher.get_by_role("button", name=w["login"], exact=True).click()
    teacher.get_by_text(w["logged_in"]).wait_for(timeout=30_000)
    teacher.get_by_text(w["queue"]).wait_for(timeout=30_000)  # the console: its queue and workers
    teacher.get_by_text(w["workers"]).scroll_into_view_if_needed()
    shot(teacher, f"console-{lang}.png")
    teacher.get_by_role("link", name=w["gallery"]).click()
    teacher.get_by_role("button", name=w["star"]).nth(2).wait_for(timeout=30_000)  # one per output
    first_words = outputs[0].text.strip()[:25]
    teacher.get_by_text(first_words).first.wait_for(timeout=30_000)
    assert teacher.get_by_text(w["prompt"]).count() >= 6  # both students' cards, each with its prompt
    shot(teacher, f"gallery-{lang}.png")
    teacher.get_by_role("button", name=w["star"]).first.click()  # star one for the projector
    teacher.get_by_role("button", name=w["unstar"]).first.wait_for(timeout=30_000)
    teacher.get_by_role("tab", name=w["compare"]).click()
    diff = teacher.locator("span[style*='line-through']").first
    diff.wait_for(timeout=30_000)  # the coloured word diff
    diff.scroll_into_view_if_needed()
    shot(teacher, f"compare-{lang}.png")
    teacher.get_by_role("tab", name=w["spotlight"]).click()
    texts = teacher.locator(".st-key-spotlight [data-testid='stText']")  # label, prompt, continuation, ...
    texts.nth(2).wait_for(timeout=30_000)
    style = "e => { const s = getComputedStyle(e.querySelector('*') || e); return [parseFloat(s.fontSize), s.fontStyle]; }"
    prompt_size, prompt_style = texts.nth(1).evaluate(style)
    size, text_style = texts.nth(2).evaluate(style)
    assert texts.nth(1).inner_text().startswith(w["prompt"][:9])
    assert size >= 24, f"projector text is {size}px"
    assert prompt_size < size and prompt_style == "italic" != text_style  # the prompt reads apart from the text
    shot(teacher, f"spotlight-{lang}.png")
