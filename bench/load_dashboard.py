"""`make load-dashboard`: simulated students in real browser sessions against one real Streamlit server.

Modelled on Streamlit's own load-testing approach (Playwright sessions against one server, reading the
server's CPU and RSS): loopback only, bounded in count and time. It starts an embedded Redis, one
`random-tiny` worker and one `streamlit run` (the measured process), then opens `--students` browser
contexts in one Debian chromium (or, with `--client protocol`, `--students` clients of Streamlit's own
WebSocket protocol: bench/st_client.py, bench/load_dashboard_protocol.py). Each simulated student
joins, opens the decoding lab and runs the notebook's presets; then everyone idles. Phases, each timed
on the server's /proc/<pid>/stat:

1. baseline: the server with no session, `--measure` seconds;
2. interaction: every student presses Run (the worker paused meanwhile, so that generation does not
   compete for the CPU); per student, the time from the click to the page's first answer (the queue
   banner: the interaction response), and the server's CPU over that burst; then the worker resumes,
   and the time from the click to the results being visible (generation included);
3. waiting: with the worker paused (SIGSTOP), every student presses Run again and waits: CPU per
   waiting session while their pages poll;
4. idle: every student reads finished results: CPU per idle session;
5. streaming: every student runs a new prompt with the worker running; per student,
   the time from the press to the first generated words on the page (`first_text_p95_s`).

It reports CPU per idle and per waiting session (% of one core), RSS per session, p50/p95 of both
latencies, errors, and ends with `dashboard_sessions_per_core: N` (idle sessions one core holds).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from devtools.embedded_redis import EmbeddedRedis, free_port
from shared.services.classes import open_class
from shared.services.store import Store, redis_client

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CLASS = "load-dash"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
FIRST_ANSWER = "En cola: posición|Empezando|Generando…|Listo en"
RESULTS = "Listo en"
QUEUED = "En cola: posición|Empezando"  # the first job may sit with the paused worker
# The first generated words on the student's page: a streamed card's text before its cursor, a card
# already complete, or the results themselves (a fast run may end before the first publication).
FIRST_TEXT = r"\S ▍|✓ terminada|Listo en"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="make load-dashboard ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--measure", type=float, default=20.0, help="seconds of each CPU measurement")
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for any page")
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--client", choices=("browser", "protocol"), default="browser",
                        help="browser: one Debian chromium, a context per student (Playwright); protocol: each "
                             "student a client of Streamlit's own WebSocket protocol (bench/st_client.py), "
                             "no renderer beside the server")
    parser.add_argument("--press-spread", type=float, default=0.0,
                        help="protocol client: seconds between one student's press of Run and the next's "
                             "(0: all 30 presses sent at once, the hardest case)")
    return parser.parse_args(argv)


class Server:
    """One process, measured from /proc."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def rss_mb(self) -> float:
        return int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1]) * PAGE_SIZE / 2**20

    def cpu_share(self, seconds: float) -> float:
        """Share of one core used over the next `seconds`."""
        start_cpu, start = self.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        return (self.cpu_seconds() - start_cpu) / (time.monotonic() - start)


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class Clients:
    """The simulated students' own CPU: this process (the protocol clients, Playwright's side) and every
    process it started other than the measured stack (chromium and its renderers, Playwright's driver)."""

    def __init__(self, stack_pids: set[int]):
        self.stack_pids = stack_pids

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_kind().values())

    @staticmethod
    def kind(pid: int) -> str:
        """'this process', 'chromium renderer', 'chromium (other)', or the program's name."""
        if pid == os.getpid():
            return "this process"
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return "?"
        program = Path(raw.split(b"\0")[0].split(b" ")[0].decode(errors="replace")).name  # zygote children
        if "chrom" in program:  # rewrite their command line as one string
            return "chromium renderer" if b"--type=renderer" in raw else "chromium (other)"
        return program

    def cpu_by_kind(self) -> dict[str, float]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        totals: dict[str, float] = {}
        todo = [os.getpid()]
        while todo:
            pid = todo.pop()
            if pid in self.stack_pids:
                continue
            try:
                seconds = process_cpu_seconds(pid)
            except (OSError, ValueError, IndexError):
                continue
            kind = self.kind(pid)
            totals[kind] = totals.get(kind, 0.0) + seconds
            todo += children.get(pid, [])
        return totals


def start_dashboard(env: dict, tmp: Path, bench: str) -> tuple[subprocess.Popen, str]:
    """A real `streamlit run` of the dashboard on a free port, once it answers; (process, its URL)."""
    port = free_port()
    dashboard = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
                                  "--server.port", str(port), "--server.headless", "true",
                                  "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                                 stdout=open(tmp / "streamlit.log", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{bench}: streamlit did not start")
        time.sleep(0.3)
    return dashboard, url


def start_stack(tmp: Path, args):
    redis_server = EmbeddedRedis(tmp / "redis").start()
    prefix = f"ld{os.getpid()}"
    store = Store(redis_client(redis_server.url), prefix)
    open_class(store, CLASS)
    env = {**os.environ, "REDIS_URL": redis_server.url, "DECODELAB_MODEL": "random-tiny", "DECODELAB_PREFIX": prefix,
           "DECODELAB_TORCH_THREADS": "1", "DECODELAB_DEMO_CLASS": "", "DECODELAB_MAX_ACTIVE_PER_STUDENT": "5",
           "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=env,
                              stdout=open(tmp / "worker.log", "wb"), stderr=subprocess.STDOUT)
    dashboard, url = start_dashboard(env, tmp, "load-dashboard")
    return redis_server, worker, dashboard, url


# Timed inside each page, so that the figures do not depend on how fast this script visits 30 pages:
# the click's time is taken by a capture listener, the answer's by a MutationObserver.
# `anew`: the text must first be gone from the page, then come back (the previous results say "Listo en"
# too: the press replaces them with the new submission's banner, and the next match is the new answer's).
WATCH = """([pattern, key, anew]) => {
    const re = new RegExp(pattern);
    window.__answers = window.__answers || {};
    delete window.__answers[key];
    let armed = !anew;
    let queued = false;  // textContent (no layout) at most once per mutation batch
    const look = () => {
        queued = false;
        if (window.__answers[key]) { return; }
        if (!re.test(document.body.textContent)) { armed = true; } else if (armed) { window.__answers[key] = Date.now(); }
    };
    new MutationObserver(() => { if (!queued) { queued = true; queueMicrotask(look); } })
        .observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
STAMP_CLICKS = """() => { document.addEventListener('click', () => { window.__clicked = Date.now();
    window.__sentAfterClick = null; }, true); }"""
# Before the app's own script: the page's WebSocket, wrapped, stamps the first message it sends after a
# click and the arrival of the first message whose bytes hold an awaited text (protobuf strings are
# UTF-8 as they are), before Streamlit's frontend handles it. So a press splits into the browser
# handling the click (click -> sent), the server's answer (sent -> arrived, network and the renderer's
# event loop included) and drawing it (arrived -> in the DOM).
WS_STAMPS = """(() => {
    const Native = window.WebSocket;
    window.__wsWatch = {}; window.__wsAnswers = {};
    const decoder = new TextDecoder();
    function Stamped(...args) {
        const ws = new Native(...args);
        const send = ws.send.bind(ws);
        ws.send = (data) => { if (window.__sentAfterClick === null) { window.__sentAfterClick = Date.now(); }
                              return send(data); };
        ws.addEventListener('message', (event) => {
            const keys = Object.keys(window.__wsWatch);
            if (!keys.length || !(event.data instanceof ArrayBuffer)) { return; }
            const text = decoder.decode(event.data);
            for (const key of keys) {
                if (window.__wsWatch[key].test(text)) { window.__wsAnswers[key] = Date.now(); delete window.__wsWatch[key]; }
            }
        });
        return ws;
    }
    Stamped.prototype = Native.prototype;
    Object.assign(Stamped, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
    window.WebSocket = Stamped;
})();"""
WS_WATCH = """([pattern, key]) => { delete window.__wsAnswers[key]; window.__wsWatch[key] = new RegExp(pattern); }"""
STAGES = """(key) => ({clicked: window.__clicked, sent: window.__sentAfterClick,
                     arrived: window.__wsAnswers[key], drawn: (window.__answers || {})[key]})"""


def stages(pages: list, key: str) -> dict:
    """p50/p95 of each stage of the press -> `key` answer: click -> sent, sent -> arrived, arrived -> drawn."""
    spans: dict[str, list[float]] = {"browser_click_to_send": [], "server_send_to_arrival": [],
                                     "browser_arrival_to_drawn": []}
    for page in pages:
        t = page.evaluate(STAGES, key)
        if all(isinstance(t[k], (int, float)) for k in ("clicked", "sent", "arrived", "drawn")):
            spans["browser_click_to_send"].append((t["sent"] - t["clicked"]) / 1000)
            spans["server_send_to_arrival"].append((t["arrived"] - t["sent"]) / 1000)
            spans["browser_arrival_to_drawn"].append((t["drawn"] - t["arrived"]) / 1000)
    return {f"{name}_p50_s": pct(values, 50) for name, values in spans.items()} | \
        {f"{name}_p95_s": pct(values, 95) for name, values in spans.items()}


def watch(pages: list, pattern: str, key: str, anew: bool = False) -> None:
    for page in pages:
        page.evaluate(WATCH, [pattern, key, anew])


def wait_all(pages: list, key: str, timeout: float) -> tuple[list[float], int]:
    """Seconds from each page's last click until its `key` answer appeared; and how many never did."""
    deadline = time.monotonic() + timeout
    took: dict[int, float] = {}
    while len(took) < len(pages) and time.monotonic() < deadline:
        for index, page in enumerate(pages):
            if index not in took:
                seen = page.evaluate(f"() => (window.__answers || {{}})['{key}'] - window.__clicked")
                if isinstance(seen, (int, float)) and seen == seen:  # not NaN
                    took[index] = seen / 1000
        time.sleep(1.0)  # the times are taken inside the pages: polling them often would only add load
    return [took[i] for i in sorted(took)], len(pages) - len(took)


def press_run(pages: list) -> None:
    for page in pages:
        page.get_by_role("button", name="Ejecutar", exact=True).click(no_wait_after=True)


def pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 3)


class Window:
    """The interaction burst: server and clients CPU from the first press until every answer was seen."""

    def __init__(self, server: Server, clients: Clients):
        self.server, self.clients = server, clients
        self.server_cpu, self.clients_cpu, self.clock = server.cpu_seconds(), clients.cpu_by_kind(), time.monotonic()

    def figures(self) -> dict:
        seconds = time.monotonic() - self.clock
        server = self.server.cpu_seconds() - self.server_cpu
        by_kind = {kind: round(100 * (cpu - self.clients_cpu.get(kind, 0.0)) / seconds, 1)
                   for kind, cpu in self.clients.cpu_by_kind().items()}  # a process that ended is left out
        return {"interaction_window_s": round(seconds, 2), "interaction_server_cpu_s": round(server, 3),
                "interaction_server_cpu_pct": round(100 * server / seconds, 1),
                "interaction_clients_cpu_pct": round(sum(by_kind.values()), 1),
                "interaction_clients_cpu_pct_by_kind": {k: v for k, v in sorted(by_kind.items()) if v}}


def run_browser(args, server: Server, clients: Clients, worker: subprocess.Popen, url: str) -> tuple[dict, int]:
    """The phases, each student a context of one Debian chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    figures: dict = {}
    errors = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-extensions",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio"])
        pages = []
        for index in range(args.students):
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.add_init_script(WS_STAMPS)
            page.set_default_timeout(args.timeout * 1000)
            page.goto(url)
            page.get_by_label("Tu nombre").fill(f"Alumno {index}")
            page.get_by_label("Código de clase", exact=True).fill(CLASS)
            page.get_by_role("button", name="Entrar").click()
            page.get_by_text("Estás en la clase").wait_for()
            page.get_by_role("link", name="Decodificación").click()
            page.get_by_role("button", name="Ejecutar", exact=True).wait_for()
            page.evaluate(STAMP_CLICKS)
            pages.append(page)
            if index == 0:
                figures["rss_before"] = server.rss_mb()  # the pages' imports are loaded: count sessions only
        # The presets with few tokens: generation is not what this measures.
        for page in pages:
            page.get_by_text("worker(s) listos").wait_for()
        watch(pages, FIRST_ANSWER, "first")
        watch(pages, RESULTS, "results")
        for page in pages:
            page.evaluate(WS_WATCH, [FIRST_ANSWER, "first"])
        worker.send_signal(signal.SIGSTOP)  # the answer to a press, not generation, competes for CPU
        window = Window(server, clients)
        press_run(pages)
        first, missing = wait_all(pages, "first", args.timeout)
        figures.update(window.figures())
        figures.update(stages(pages, "first"))
        worker.send_signal(signal.SIGCONT)
        done, missing_done = wait_all(pages, "results", args.timeout)
        errors += missing + missing_done
        figures.update(interaction_p50_s=pct(first, 50), interaction_p95_s=pct(first, 95),
                       results_p50_s=pct(done, 50), results_p95_s=pct(done, 95))
        time.sleep(3)
        clients_before = clients.cpu_seconds()
        figures["idle_cpu_pct_total"] = round(100 * server.cpu_share(args.measure), 2)
        figures["idle_clients_cpu_pct"] = round(100 * (clients.cpu_seconds() - clients_before) / args.measure, 1)
        figures["rss_mb_per_session"] = round((server.rss_mb() - figures.pop("rss_before")) /
                                              max(1, args.students - 1), 2)
        worker.send_signal(signal.SIGSTOP)  # submissions stay queued: pages wait and poll
        try:
            for page in pages:  # a new prompt each, so nothing is answered from the cache
                prompt_box(page).fill(f"Waiting test {time.time()}")
            watch(pages, QUEUED, "queued")
            press_run(pages)
            _, missing = wait_all(pages, "queued", args.timeout)
            errors += missing
            time.sleep(2)
            clients_before = clients.cpu_seconds()
            figures["waiting_cpu_pct_total"] = round(100 * server.cpu_share(args.measure), 2)
            figures["waiting_clients_cpu_pct"] = round(
                100 * (clients.cpu_seconds() - clients_before) / args.measure, 1)
        finally:
            worker.send_signal(signal.SIGCONT)
        watch(pages, RESULTS, "again")
        _, missing = wait_all(pages, "again", args.timeout)
        errors += missing
        first_text, missing = streaming(pages, args.timeout)
        errors += missing
        figures.update(first_text_p50_s=pct(first_text, 50), first_text_p95_s=pct(first_text, 95))
        browser.close()
    return figures, errors


def prompt_box(page):
    """The decoding lab's prompt, by its widget key: a label's text ("Prompt") is also on every card."""
    return page.locator(".st-key-prompt textarea")


def streaming(pages: list, timeout: float) -> tuple[list[float], int]:
    """Every student runs a new prompt with the worker running: seconds from each press to the first
    generated words on the page; and how many never showed any, or never finished."""
    for page in pages:
        prompt_box(page).fill(f"Streaming test {time.time()}")
    watch(pages, FIRST_TEXT, "first_text", anew=True)
    watch(pages, RESULTS, "streamed")
    press_run(pages)
    first_text, missing = wait_all(pages, "first_text", timeout)
    _, missing_done = wait_all(pages, "streamed", timeout)
    return first_text, missing + missing_done


def main(argv=None) -> int:
    args = parse_args(argv)
    figures: dict = {"students": args.students, "client": args.client}
    with tempfile.TemporaryDirectory(prefix="decodelab-loaddash-") as tmp_name:
        tmp = Path(tmp_name)
        redis_server, worker, dashboard, url = start_stack(tmp, args)
        server = Server(dashboard)
        clients = Clients({dashboard.pid, worker.pid, redis_server.process.pid})
        try:
            time.sleep(3)
            figures["baseline_cpu_pct"] = round(100 * server.cpu_share(min(5.0, args.measure)), 2)
            if args.client == "browser":
                measured, errors = run_browser(args, server, clients, worker, url)
            else:
                from bench.load_dashboard_protocol import run_protocol
                measured, errors = run_protocol(args, server, clients, worker, url)
            figures.update(measured)
        finally:
            for process in (dashboard, worker):
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
            redis_server.stop()
    baseline = figures["baseline_cpu_pct"]
    per_idle = max(0.0, figures["idle_cpu_pct_total"] - baseline) / args.students
    per_waiting = max(0.0, figures["waiting_cpu_pct_total"] - baseline) / args.students
    figures.update(idle_cpu_pct_per_session=round(per_idle, 3), waiting_cpu_pct_per_session=round(per_waiting, 3),
                   errors=errors, dashboard_sessions_per_core=int(100 / max(per_idle, 0.01)))
    print(json.dumps(figures, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=1))
    print(f"dashboard_sessions_per_core: {figures['dashboard_sessions_per_core']}")
    if figures.get("first_text_p95_s") is not None:
        print(f"first_text_p95_s: {figures['first_text_p95_s']}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
