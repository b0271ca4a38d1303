"""A real browser (Debian's chromium, driven by Playwright) against the real stack: Redis, a worker
with random-tiny, and `streamlit run`. A student joins and runs the notebook's presets; the instructor,
in a second browser context, sees the outputs in the gallery. Screenshots go to `artifacts/`.

Needs /usr/bin/chromium (`.ci/run` installs it with apt-get); skipped where it is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from shared.embedded_redis import free_port
from tests.conftest import ROOT, TEST_CLASS, settings_env, wait_for

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
                                reason="Debian chromium not installed (apt-get install -y chromium)")


@pytest.fixture
def dashboard_url(settings, store, workers, tmp_path):
    workers.start()
    port = free_port()
    env = {**settings_env(settings), "DECODELAB_DEMO_CLASS": ""}
    log = open(tmp_path / "streamlit.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
                               "--server.port", str(port), "--server.headless", "true",
                               "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout=60, message="streamlit to answer")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def _healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200
    except OSError:
        return False


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


def test_student_runs_presets_and_instructor_sees_them_in_the_gallery(dashboard_url, browser, store, settings):
    ARTIFACTS.mkdir(exist_ok=True)
    student = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
    student.goto(dashboard_url)
    student.get_by_label("Tu nombre").fill("Lucía")
    student.get_by_label("Código de clase", exact=True).fill(TEST_CLASS)
    student.get_by_role("button", name="Entrar").click()
    student.get_by_text(f"Estás en la clase {TEST_CLASS} como Lucía.").wait_for(timeout=30_000)
    student.reload()  # F5: a new Streamlit session, still signed in through the URL's session token
    student.get_by_text(f"Estás en la clase {TEST_CLASS} como Lucía.").wait_for(timeout=30_000)
    student.get_by_role("link", name="Decodificación").click()
    student.get_by_text("1 worker(s) listos · random-tiny · cpu").wait_for(timeout=60_000)
    student.get_by_role("button", name="Ejecutar").click()
    student.get_by_text("Listo en").wait_for(timeout=120_000)
    student.get_by_text("sampling · T 0.3 · top-p 0.9 · top-k 50 · rep 1.1 · 80 tok · random-tiny").first.wait_for()
    student.wait_for_timeout(1500)  # let every widget finish drawing before the picture
    student.get_by_text("Ejecutar").scroll_into_view_if_needed()  # the run button, then the results
    student.mouse.wheel(0, 700)
    student.wait_for_timeout(500)
    student.screenshot(path=str(ARTIFACTS / "decoding-page.png"))
    outputs = store.outputs([i.decode() for i in store.redis.zrange(store.class_key(TEST_CLASS, "outputs"), 0, -1)])
    assert len(outputs) == 3 and {o["student"] for o in outputs} == {"Lucía"}

    teacher = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
    teacher.goto(dashboard_url)
    teacher.get_by_role("link", name="Profesor/a").click()
    teacher.get_by_label("Contraseña").fill(settings.instructor_password)
    teacher.get_by_role("button", name="Entrar").click()
    teacher.get_by_text("Sesión de profesor/a iniciada.").wait_for(timeout=30_000)
    teacher.get_by_role("link", name="Galería de la clase").click()
    teacher.get_by_text(f"Galería de la clase {TEST_CLASS}").wait_for(timeout=30_000)
    first_words = outputs[0]["text"].strip()[:25]
    teacher.get_by_text(first_words).first.wait_for(timeout=30_000)
    teacher.get_by_role("button", name="★ Destacar").nth(2).wait_for(timeout=30_000)  # one per output
    assert teacher.get_by_role("button", name="★ Destacar").count() == 3
    teacher.wait_for_timeout(1500)
    teacher.screenshot(path=str(ARTIFACTS / "gallery-instructor.png"), full_page=True)
    assert os.path.getsize(ARTIFACTS / "gallery-instructor.png") > 10_000

    teacher.get_by_role("button", name="★ Destacar").first.click()  # star one for the projector
    teacher.get_by_role("button", name="☆ Quitar destacado").wait_for(timeout=30_000)
    teacher.get_by_role("tab", name="Proyector").click()
    projected = teacher.locator(".st-key-spotlight [data-testid='stText']").nth(1)
    projected.wait_for(timeout=30_000)
    size = projected.evaluate("e => parseFloat(getComputedStyle(e.querySelector('*') || e).fontSize)")
    assert size >= 24, f"projector text is {size}px"
    teacher.screenshot(path=str(ARTIFACTS / "spotlight.png"))
