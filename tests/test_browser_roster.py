"""The instructor's roster in a real browser (Debian's chromium, Playwright) against `streamlit run` and
Redis: lock joining (a student is told the class is closed to new students), remove one student (her open
page ends), remove everyone who joined in the last minutes. Screenshots go to `artifacts/`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from devtools.embedded_redis import free_port
from shared.services.classes import join_class
from shared.services.roster import on_roster, roster
from tests.conftest import ROOT, TEST_CLASS, _healthy, settings_env, wait_for
from tests.test_browser import ARTIFACTS, CHROMIUM, browser, shot  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@pytest.fixture
def dashboard(settings, store, tmp_path):
    """`streamlit run` of the dashboard (no worker: the roster needs none); its URL."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
                               "--server.port", str(port), "--server.headless", "true",
                               "--browser.gatherUsageStats", "false"], cwd=ROOT,
                              env={**settings_env(settings), "DECODELAB_DEMO_CLASS": ""},
                              stdout=open(tmp_path / "streamlit.log", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout=60, message="streamlit")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def a_class_with_a_flood(store) -> None:
    """Four students who joined 40 minutes ago, and four bots who joined just now."""
    for name in ("Ana", "Bruno", "Carmen", "Diego"):
        student = join_class(store, TEST_CLASS, name)
        key = store.keys.students(TEST_CLASS)
        record = json.loads(store.redis.hget(key, student.id))
        store.redis.hset(key, student.id, json.dumps({**record, "joined_at": time.time() - 40 * 60}))
    for i in range(4):
        join_class(store, TEST_CLASS, f"bot{i}")


def student_page(browser, url: str, name: str):
    page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    page.goto(url)
    page.get_by_label("Tu nombre").fill(name)
    page.get_by_label("Código de clase", exact=True).fill(TEST_CLASS)
    page.get_by_role("button", name="Entrar", exact=True).click()
    return page


def test_the_instructor_locks_removes_and_bulk_removes_in_the_browser(dashboard, browser, store, settings):
    ARTIFACTS.mkdir(exist_ok=True)
    a_class_with_a_flood(store)
    lucia = student_page(browser, dashboard, "Lucía")
    lucia.get_by_text(f"Estás en la clase {TEST_CLASS} como Lucía.").wait_for(timeout=30_000)

    teacher = browser.new_context(viewport={"width": 1400, "height": 1900}).new_page()
    teacher.goto(dashboard)
    teacher.get_by_role("link", name="Profesor/a").click()
    teacher.get_by_label("Contraseña", exact=True).fill(settings.instructor_password)
    teacher.get_by_role("button", name="Entrar", exact=True).click()
    teacher.get_by_text("Sesión de profesor/a iniciada.").wait_for(timeout=30_000)
    teacher.get_by_text(f"{TEST_CLASS} · 9 estudiante(s)").click()
    teacher.get_by_text("Lista de la clase").wait_for(timeout=30_000)

    teacher.get_by_role("button", name="Bloquear entradas").click()
    teacher.get_by_text("Entradas bloqueadas").wait_for(timeout=30_000)
    late = student_page(browser, dashboard, "Tardío")
    late.get_by_text("La clase está cerrada a nuevas incorporaciones").wait_for(timeout=30_000)
    shot(late, "join-locked-es.png")
    shot(teacher, "roster-es.png", full_page=True)

    teacher.locator(f".st-key-roster-pick-{TEST_CLASS}").click()
    teacher.get_by_role("option", name="Lucía (s9)").click()
    teacher.get_by_role("button", name="Quitar de la clase").click()
    teacher.get_by_text("¿Quitar a Lucía de la clase?").wait_for(timeout=30_000)
    teacher.get_by_role("button", name="Sí, quitar").click()
    teacher.get_by_text("1 estudiante(s) fuera de la clase.").wait_for(timeout=30_000)
    assert not on_roster(store, TEST_CLASS, "s9")
    lucia.get_by_role("link", name="Decodificación").click()  # her next click: she is out
    lucia.get_by_text("Primero entra a una clase").wait_for(timeout=30_000)

    teacher.get_by_role("button", name="Quitar a los 4 que entraron en los últimos 10 min").click()
    teacher.get_by_text("¿Quitar a bot0, bot1, bot2, bot3 de la clase?").wait_for(timeout=30_000)
    shot(teacher, "roster-bulk-confirm-es.png", full_page=True)
    teacher.get_by_role("button", name="Sí, quitar").click()
    teacher.get_by_text("4 estudiante(s) fuera de la clase.").wait_for(timeout=30_000)
    assert [row.label for row in roster(store, TEST_CLASS)] == ["Ana", "Bruno", "Carmen", "Diego"]
    teacher.get_by_text("Quitados de la clase: Lucía, bot0, bot1, bot2, bot3").wait_for(timeout=30_000)
    shot(teacher, "roster-after-es.png", full_page=True)
