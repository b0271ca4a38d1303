"""`make load-lesson`: a class of N students answers one question within a few seconds, while the
instructor's presentation page shows the tally. Are votes lost or duplicated, and how old is the tally?

It starts an embedded Redis and one `streamlit run` (no worker: nothing is generated), opens a class,
starts the built-in lesson on its prediction step and opens the question. The presentation page is a real
Streamlit session driven by the protocol client (bench/st_client.py): it logs in on the console and opens
*Presentación*, whose polled fragment redraws "N de M han respondido" every second. The votes go through
the service layer (`shared.services.lessons.answer`, the function the page's *Enviar respuesta* button
calls), from a pool of threads, spread evenly over `--window` seconds: driving 300 students' pages with
the protocol client would measure the 2-core machine's page runs, not whether a vote is kept, and the
presentation page, the one Streamlit session whose timing is asked for, is real. A share of the students
(`--retries`) sends its answer twice (a retry after a lost reply) and another share (`--changes`) changes
its mind once.

`--followers` more students (30 by default) join through their own protocol-client pages and sit on the
decoding lab, following the lesson as a class does: the server's CPU while they follow (their pages poll
the lesson every 3 s) and the time from the instructor's next step to each of their pages showing it
(`step_push_p95_s`) are reported too.

Printed: `votes_lost` (students whose last answer is not the stored one, or missing from the tally),
`votes_duplicated` (answers counted beyond one per student), `tally_p95_s` and `last_vote_to_tally_s`
(from the moment the k-th student's first answer is stored to the moment the presentation page first
shows at least k answers). Targets: 0, 0, <= 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from bench.load_dashboard import process_cpu_seconds, start_dashboard
from bench.load_dashboard_protocol import join
from bench.st_client import Tab
from devtools.embedded_redis import EmbeddedRedis
from shared.contract.settings import Settings
from shared.services import lessons
from shared.services.classes import Student, join_class, open_class
from shared.services.moderation import instructor_token
from shared.services.store import Store, redis_client
from shared.teaching.lessons import BUILT_IN_FOLDER, load_folder

ROOT = Path(__file__).resolve().parent.parent
CLASS = "load-lesson"
PASSWORD = "load-lesson-password"
STEP = "1.2-predict"
COUNT = re.compile(r"(\d+) de (\d+) han respondido")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="make load-lesson ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--window", type=float, default=10.0, help="seconds over which the votes are spread")
    parser.add_argument("--threads", type=int, default=32, help="votes in flight at once")
    parser.add_argument("--retries", type=float, default=0.1, help="share of students who send their answer twice")
    parser.add_argument("--changes", type=float, default=0.1, help="share of students who change their answer")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for the page to show the tally")
    parser.add_argument("--followers", type=int, default=30, help="students on real pages following the lesson")
    parser.add_argument("--measure", type=float, default=10.0, help="seconds of each CPU measurement")
    parser.add_argument("--out", help="write the figures as JSON here")
    return parser.parse_args(argv)


def start_stack(tmp: Path):
    redis_server = EmbeddedRedis(tmp / "redis").start()
    prefix = f"ll{os.getpid()}"
    settings = replace(Settings(), redis_url=redis_server.url, key_prefix=prefix, instructor_password=PASSWORD)
    env = {**os.environ, "REDIS_URL": redis_server.url, "DECODELAB_PREFIX": prefix, "DECODELAB_DEMO_CLASS": "",
           "DECODELAB_INSTRUCTOR_PASSWORD": PASSWORD, "DECODELAB_MODEL": "random-tiny", "PYTHONPATH": str(ROOT)}
    dashboard, url = start_dashboard(env, tmp, "load-lesson")
    return redis_server, dashboard, url, Store(redis_client(redis_server.url), prefix), settings


def prepare_class(store: Store, settings: Settings, students: int) -> tuple[list[Student], str]:
    """The class, its students (joined through the service, as the join page does) and the open question."""
    open_class(store, CLASS)
    notebook = next(lesson for lesson in load_folder(BUILT_IN_FOLDER)[0] if lesson.id == "decoding")
    token = instructor_token(settings, PASSWORD) or ""
    lessons.start(store, settings, token, CLASS, notebook)
    lessons.go_to(store, settings, token, CLASS, [s.id for s in notebook.steps].index(STEP))
    lessons.open_question(store, settings, token, CLASS)
    joined = [join_class(store, CLASS, f"Alumno {i}") for i in range(students)]
    return joined, notebook.question_key([s.id for s in notebook.steps].index(STEP))


async def presentation(url: str, students: int, timeout: float) -> Tab:
    """The instructor's presentation page: log in on the console, open Presentación, see the count."""
    tab = Tab(url)
    await tab.open("/")
    await tab.wait_for(lambda: tab.has("page_link", "Profesor/a") and tab.settled(), timeout)
    await tab.click_link("Profesor/a")
    await tab.wait_for(lambda: tab.has("text_input", "Contraseña") and tab.settled(), timeout)
    tab.type("Contraseña", PASSWORD)
    await tab.press("Entrar")  # the login form's submit button
    await tab.wait_for(lambda: tab.has("page_link", "Presentación") and tab.settled(), timeout)
    await tab.click_link("Presentación")
    await tab.wait_text(f"0 de {students} han respondido", timeout)
    return tab


def shown_count(tab: Tab) -> int:
    counts = [int(m.group(1)) for text in tab.texts() for m in [COUNT.search(text)] if m]
    return max(counts, default=0)


async def watch_tally(tab: Tab, students: int, seen: dict[int, float], timeout: float) -> None:
    """Every message the page gets: the first moment it showed at least k answers, for each k."""
    deadline = time.monotonic() + timeout
    shown = 0
    while shown < students and time.monotonic() < deadline:
        tab.updated.clear()
        now_shown = shown_count(tab)
        for k in range(shown + 1, now_shown + 1):
            seen[k] = time.monotonic()
        shown = max(shown, now_shown)
        try:
            await asyncio.wait_for(tab.updated.wait(), timeout=1.0)
        except TimeoutError:
            pass


def cast_votes(store: Store, students: list[Student], key: str, args) -> tuple[dict[str, int], list[float], int]:
    """Every student answers at a moment spread over the window; some twice (a retry), some change.
    Returns each student's last answer, the moments first answers were stored (sorted), and errors."""
    rng = random.Random(23)
    plan = []
    for i, student in enumerate(students):
        first = rng.randrange(4)
        second = first if rng.random() < args.retries else (rng.randrange(4) if rng.random() < args.changes else None)
        plan.append((args.window * i / len(students), student, first, second))
    last: dict[str, int] = {}
    firsts: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = time.monotonic()

    def vote(moment: float, student: Student, first: int, second: int | None) -> None:
        time.sleep(max(0.0, start + moment - time.monotonic()))
        try:
            lessons.answer(store, student, key, first)
            stored = time.monotonic()
            if second is not None:
                lessons.answer(store, student, key, second)
        except Exception:  # noqa: BLE001 - counted: a refused or failed vote is a lost one
            with lock:
                errors[0] += 1
            return
        with lock:
            firsts.append(stored)
            last[student.id] = first if second is None else second

    with ThreadPoolExecutor(args.threads) as pool:
        for planned in plan:
            pool.submit(vote, *planned)
    return last, sorted(firsts), errors[0]


async def server_cpu_pct(pid: int, seconds: float) -> float:
    start_cpu, start = process_cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return round(100 * (process_cpu_seconds(pid) - start_cpu) / (time.monotonic() - start), 1)


async def measure(url: str, pid: int, store: Store, settings: Settings, students: list[Student], key: str,
                  args) -> dict:
    tab = await presentation(url, len(students), args.timeout)
    figures: dict = {"presentation_only_cpu_pct": await server_cpu_pct(pid, args.measure)}
    followers = [await join(url, i, args.timeout, CLASS) for i in range(args.followers)]
    if followers:
        await asyncio.sleep(3)
        figures["following_cpu_pct"] = await server_cpu_pct(pid, args.measure)
        figures["following_cpu_pct_per_student"] = round(
            max(0.0, figures["following_cpu_pct"] - figures["presentation_only_cpu_pct"]) / len(followers), 3)
    seen: dict[int, float] = {}
    watcher = asyncio.create_task(watch_tally(tab, len(students), seen, args.window + args.timeout))
    cpu = asyncio.create_task(server_cpu_pct(pid, args.window))
    last, firsts, errors = await asyncio.to_thread(cast_votes, store, students, key, args)
    await watcher
    figures["voting_cpu_pct"] = await cpu
    shown = shown_count(tab)
    figures.update(await push_step(store, settings, followers, args.timeout))
    for page in [tab, *followers]:
        await page.close()
    return {**count_votes(store, students, key, last, firsts, errors, shown, seen, args), **figures}


async def push_step(store: Store, settings: Settings, followers: list[Tab], timeout: float) -> dict:
    """The instructor's next step: how long until each following page shows its title."""
    if not followers:
        return {}
    running = lessons.current(store, CLASS)
    assert running is not None
    title = running.lesson.steps[running.index + 1].title.es
    pushed = time.monotonic()
    lessons.go_to(store, settings, instructor_token(settings, PASSWORD) or "", CLASS, running.index + 1)
    moments = await asyncio.gather(*(page.wait_text(re.escape(title), timeout) for page in followers),
                                   return_exceptions=True)
    delays = sorted(m - pushed for m in moments if isinstance(m, float))
    return {"step_push_p95_s": pct(delays, 95), "step_push_missed": len(followers) - len(delays)}


def pct(values: list[float], share: int) -> float | None:
    return round(values[min(len(values) - 1, int(share / 100 * len(values)))], 3) if values else None


def count_votes(store: Store, students: list[Student], key: str, last: dict[str, int], firsts: list[float],
                errors: int, shown: int, seen: dict[int, float], args) -> dict:
    """What was stored, counted and shown against what each student last sent."""
    stored = lessons.answers(store, CLASS, key)
    running = lessons.current(store, CLASS)
    tally = lessons.class_tally(store, running) if running else None
    expected = [0] * 4
    for value in last.values():
        expected[value] += 1
    lost = sum(1 for s in students if s.id not in last) + sum(
        1 for sid, value in last.items() if (stored[sid].value if sid in stored else None) != value)
    lost += max(0, len(students) - shown)
    counted = tally.answered if tally else 0
    duplicated = max(0, len(stored) - len(students)) + max(0, counted - len(students)) + max(0, shown - len(students))
    if tally and tally.counts != expected:
        lost += sum(max(0, e - c) for e, c in zip(expected, tally.counts))
        duplicated += sum(max(0, c - e) for e, c in zip(expected, tally.counts))
    delays = sorted(seen[k] - moment for k, moment in enumerate(firsts, 1) if k in seen)
    return {"students": len(students), "window_s": args.window, "vote_errors": errors, "shown": shown,
            "votes_lost": lost, "votes_duplicated": duplicated, "tally_p50_s": pct(delays, 50),
            "tally_p95_s": pct(delays, 95),
            "last_vote_to_tally_s": round(seen[len(firsts)] - firsts[-1], 3) if firsts and len(firsts) in seen else None}


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="decodelab-loadlesson-") as tmp_name:
        redis_server, dashboard, url, store, settings = start_stack(Path(tmp_name))
        try:
            students, key = prepare_class(store, settings, args.students)
            figures = asyncio.run(measure(url, dashboard.pid, store, settings, students, key, args))
        finally:
            dashboard.send_signal(signal.SIGTERM)
            dashboard.wait(timeout=20)
            redis_server.stop()
    for name, value in figures.items():
        print(f"{name}: {value}")
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=1))
    ok = figures["votes_lost"] == 0 and figures["votes_duplicated"] == 0
    return 0 if ok and figures["tally_p95_s"] is not None and figures["tally_p95_s"] <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
