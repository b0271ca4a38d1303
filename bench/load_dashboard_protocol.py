"""`make load-dashboard ARGS="--client protocol"`: the same phases as the browser mode, each student a
client of Streamlit's own WebSocket protocol (bench/st_client.py) instead of a chromium context.

Without 30 renderers beside it, the server has the machine's cores to itself, so the latencies are the
server's own answer to a press (plus this one asyncio process parsing the answers, whose CPU is reported
as `interaction_clients_cpu_pct`). A click's moment is when its `rerun_script` goes out; an answer's is when the first
delta that draws the awaited text has been read.
"""

from __future__ import annotations

import asyncio
import signal
import time

from bench.load_dashboard import CLASS, FIRST_ANSWER, FIRST_TEXT, QUEUED, RESULTS, Clients, Server, Window, pct
from bench.st_client import Tab


async def join(url: str, index: int, timeout: float, code: str = CLASS) -> Tab:
    """Open the app, join the class, open the decoding lab: what the browser mode's student does."""
    tab = Tab(url)
    await tab.open("/")
    await tab.wait_for(lambda: tab.has("button", "Entrar") and tab.settled(), timeout)
    tab.type("Tu nombre", f"Alumno {index}")
    tab.type("Código de clase", code)
    await tab.press("Entrar")
    await tab.wait_text("Estás en la clase", timeout)
    await tab.wait_for(lambda: tab.has("page_link", "Decodificación") and tab.settled(), timeout)
    await tab.click_link("Decodificación")
    await tab.wait_for(lambda: tab.has("button", "Ejecutar") and tab.settled(), timeout)
    return tab


async def press_all(tabs: list[Tab], pattern: str, timeout: float, spread: float) -> tuple[list[float], int, list]:
    """Every student presses Run (one after another, `spread` seconds apart; 0: all at once); seconds from
    each press to the first delta showing `pattern`; how many never showed it; the presses' moments."""
    waits = [tab.watch(pattern) for tab in tabs]
    pressed = []
    for tab in tabs:
        pressed.append(await tab.press("Ejecutar"))
        if spread:
            await asyncio.sleep(spread)
    return await collect(waits, pressed, timeout) + (pressed,)


async def collect(waits: list, pressed: list[float], timeout: float) -> tuple[list[float], int]:
    done, _ = await asyncio.wait(waits, timeout=timeout)
    took = [w.result() - p for w, p in zip(waits, pressed) if w in done and w.exception() is None]
    for wait in waits:
        if wait not in done:
            wait.cancel()
    return took, len(waits) - len(took)


async def phases(args, server: Server, clients: Clients, worker, url: str) -> tuple[dict, int]:
    figures: dict = {}
    errors = 0
    tabs = []
    for index in range(args.students):
        tabs.append(await join(url, index, args.timeout))
        if index == 0:
            rss_before = server.rss_mb()
    await asyncio.gather(*(tab.wait_text(r"worker\(s\) listos", args.timeout) for tab in tabs))
    await asyncio.sleep(1)
    results = [tab.watch(RESULTS) for tab in tabs]
    worker.send_signal(signal.SIGSTOP)  # the answer to a press, not generation, competes for CPU
    window = Window(server, clients)
    first, missing, pressed = await press_all(tabs, FIRST_ANSWER, args.timeout, args.press_spread)
    figures.update(window.figures())
    worker.send_signal(signal.SIGCONT)
    done, missing_done = await collect(results, pressed, args.timeout)
    errors += missing + missing_done
    figures.update(interaction_p50_s=pct(first, 50), interaction_p95_s=pct(first, 95),
                   interaction_max_s=round(max(first), 3) if first else None,
                   results_p50_s=pct(done, 50), results_p95_s=pct(done, 95))
    await asyncio.sleep(3)
    clients_before = clients.cpu_seconds()
    figures["idle_cpu_pct_total"] = round(100 * await cpu_share(server, args.measure), 2)
    figures["idle_clients_cpu_pct"] = round(100 * (clients.cpu_seconds() - clients_before) / args.measure, 1)
    figures["rss_mb_per_session"] = round((server.rss_mb() - rss_before) / max(1, args.students - 1), 2)
    worker.send_signal(signal.SIGSTOP)  # submissions stay queued: pages wait and poll
    try:
        for tab in tabs:  # a new prompt each, so nothing is answered from the cache
            tab.type("Prompt", f"Waiting test {time.time()}")
        again = [tab.watch(RESULTS) for tab in tabs]
        _, missing, pressed = await press_all(tabs, QUEUED, args.timeout, args.press_spread)
        errors += missing
        await asyncio.sleep(2)
        clients_before = clients.cpu_seconds()
        figures["waiting_cpu_pct_total"] = round(100 * await cpu_share(server, args.measure), 2)
        figures["waiting_clients_cpu_pct"] = round(100 * (clients.cpu_seconds() - clients_before) / args.measure, 1)
    finally:
        worker.send_signal(signal.SIGCONT)
    _, missing = await collect(again, pressed, args.timeout)
    errors += missing
    first_text, missing = await streaming(tabs, args)
    errors += missing
    figures.update(first_text_p50_s=pct(first_text, 50), first_text_p95_s=pct(first_text, 95))
    for tab in tabs:
        await tab.close()
    return figures, errors


async def streaming(tabs: list[Tab], args) -> tuple[list[float], int]:
    """Every student runs a new prompt (nothing cached) with the worker running: seconds from each press to
    the first generated words on the page; and how many never showed any."""
    for tab in tabs:
        tab.type("Prompt", f"Streaming test {time.time()}")
    done = [tab.watch(RESULTS) for tab in tabs]
    first_text, missing, pressed = await press_all(tabs, FIRST_TEXT, args.timeout, args.press_spread)
    _, missing_done = await collect(done, pressed, args.timeout)
    return first_text, missing + missing_done


async def cpu_share(server: Server, seconds: float) -> float:
    """As Server.cpu_share, without blocking the clients' event loop (their timers keep running)."""
    start_cpu, start = server.cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    return (server.cpu_seconds() - start_cpu) / (time.monotonic() - start)


def run_protocol(args, server: Server, clients: Clients, worker, url: str) -> tuple[dict, int]:
    return asyncio.run(phases(args, server, clients, worker, url))
