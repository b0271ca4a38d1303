"""`make run`: Redis (embedded unless REDIS_URL is set), one worker, the dashboard on :8501.

The embedded Redis has a password (random, kept in `data/redis/password`, mode 0600); the worker and
the dashboard get it in REDIS_URL, which is printed with the password masked.

Every process it starts is its own child, stopped by pid on Ctrl-C (SIGTERM, then SIGKILL after a
grace period); nothing else on the machine is touched. If the worker cannot load its model it exits
with one line saying why; the dashboard keeps running and says that no worker is ready.

When the model is the default `distilgpt2` and it cannot be loaded (no model hub, no local copy), the
demo model that `make demo-model` trains offline is used instead, said on one line; if it is not built
either, one line says how to build it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.embedded_redis import EmbeddedRedis, kept_password
from shared.contract.settings import Settings, redact_url

ROOT = Path(__file__).resolve().parent.parent

GRACE_SECONDS = 10
DEFAULT_MODEL = "distilgpt2"  # the notebook's model; the only one `make run` replaces with the demo model
DEMO_MODEL_DIR = ROOT / "data" / "models" / "demo"  # where `make demo-model` saves (worker/model.py)
CHECK_TIMEOUT = 600  # seconds a model load may take in the check (a first hub download included)


def start(name: str, command: list[str], env: dict) -> subprocess.Popen:
    print(f"[run] starting {name}: {' '.join(command)}", flush=True)
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def stop(name: str, process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    print(f"[run] stopping {name} (pid {process.pid})", flush=True)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def model_loads(env: dict) -> bool:
    """Whether the worker can load its model (`python -m worker --check`, which says why not)."""
    print(f"[run] checking that the worker can load {env.get('DECODELAB_MODEL') or DEFAULT_MODEL}…", flush=True)
    try:
        done = subprocess.run([sys.executable, "-m", "worker", "--check"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=CHECK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def choose_model(env: dict) -> None:
    """distilgpt2 that cannot be loaded -> the demo model, if built; else say how to build it."""
    if (env.get("DECODELAB_MODEL") or DEFAULT_MODEL) != DEFAULT_MODEL or model_loads(env):
        return
    if (DEMO_MODEL_DIR / "config.json").exists():
        env["DECODELAB_MODEL"] = "demo"
        print(f"[run] {DEFAULT_MODEL} cannot be loaded here (no model hub, no local copy): using the small demo "
              f"model trained offline ({DEMO_MODEL_DIR}), labelled as such on the pages", flush=True)
    else:
        print(f"[run] {DEFAULT_MODEL} cannot be loaded here (no model hub, no local copy) and the demo model is not "
              f"built: run `make demo-model` (about 7 minutes on 2 CPU cores, offline), then `make run` again; or "
              f"DECODELAB_MODEL=/path/to/a/saved/model make run", flush=True)


def embedded_redis(data_dir: Path, port: int) -> EmbeddedRedis:
    """The embedded server, with the password kept in its data directory: on a shared machine every local
    account can reach 127.0.0.1, and Redis holds the secret behind every rejoin code."""
    return EmbeddedRedis(data_dir, port=port, password=kept_password(data_dir))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    settings = Settings.from_env()  # DECODELAB_PORT, DECODELAB_REDIS_PORT, DECODELAB_DATA_DIR give the defaults
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--redis-port", type=int, default=settings.redis_port)
    parser.add_argument("--data-dir", default=str(ROOT / settings.data_dir))
    args = parser.parse_args()

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    choose_model(env)
    redis_server = None
    if not env.get("REDIS_URL"):
        redis_server = embedded_redis(Path(args.data_dir) / "redis", args.redis_port).start()
        env["REDIS_URL"] = redis_server.url  # with its password: the worker and the dashboard log in with it
        print(f"[run] embedded Redis on {redact_url(redis_server.url)} (append-only file in {redis_server.data_dir}, "
              f"password in {redis_server.data_dir / 'password'})", flush=True)
    children = {
        "worker": start("worker", [sys.executable, "-m", "worker"], env),
        "dashboard": start("dashboard", [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
            "--server.port", str(args.port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false"], env),
    }
    print(f"[run] open http://localhost:{args.port}  (Ctrl-C stops everything started here)", flush=True)
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    reported: set[str] = set()
    try:
        while not stopping:
            for name, process in children.items():
                if process.poll() is not None and name not in reported:
                    reported.add(name)
                    print(f"[run] {name} exited with code {process.returncode}", flush=True)
            if children["dashboard"].poll() is not None:
                break
            time.sleep(0.5)
    finally:
        for name in ("dashboard", "worker"):
            stop(name, children[name])
        if redis_server is not None:
            print("[run] stopping embedded Redis", flush=True)
            redis_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
