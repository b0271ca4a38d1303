"""Metrics, read back through a real Prometheus (Debian's `prometheus` package), and the alert rules,
checked and unit-tested with its `promtool`. Skipped with the reason where the package is missing
(`.ci/run` installs it)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest
import yaml

from devtools.embedded_redis import free_port
from tests.conftest import ROOT, TEST_CLASS, _healthy, settings_env, wait_for

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="promtool not installed (Debian package `prometheus`)")
needs_prometheus = pytest.mark.skipif(shutil.which("prometheus") is None,
                                      reason="prometheus not installed (Debian package `prometheus`)")


@needs_promtool
def test_alert_rules_and_config_pass_promtool():
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"],
                    ["check", "config", "prometheus.yml"]):
        done = subprocess.run(["promtool", *command], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_streamlit_private_session_count_is_still_there():
    """dashboard/metrics.py counts sessions through Streamlit's private session manager."""
    from streamlit.runtime.websocket_session_manager import WebsocketSessionManager

    assert callable(WebsocketSessionManager.num_active_sessions)


def prometheus_config(worker: str, dashboard: str, path) -> None:
    """The repository's config, its targets replaced by the processes this test started."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / "alerts.yml")]
    targets = {"decodelab-worker": worker, "decodelab-dashboard": dashboard}
    config["scrape_configs"] = [{"job_name": job["job_name"], "static_configs": [{"targets": [targets[job["job_name"]]]}]}
                                for job in config["scrape_configs"] if job["job_name"] in targets]
    assert len(config["scrape_configs"]) == 2, "the repository's config lost a Decoding Lab job"
    path.write_text(yaml.safe_dump(config))


def query(api: str, expression: str) -> dict[str, float]:
    """An instant query: {label values joined by ',': value}."""
    url = f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    answer = json.loads(urllib.request.urlopen(url, timeout=5).read())
    assert answer["status"] == "success", answer
    return {",".join(f"{k}={v}" for k, v in sorted(r["metric"].items()) if k not in ("__name__", "instance", "job")):
            float(r["value"][1]) for r in answer["data"]["result"]}


def started(command, log, env=None) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)


@needs_prometheus
def test_prometheus_scrapes_a_worker_and_a_dashboard_through_a_press_of_run(settings, store, tmp_path):
    from tests.test_protocol_client import joined, press_run

    worker_port, dashboard_port, metrics_port, prometheus_port = (free_port() for _ in range(4))
    env = {**settings_env(settings), "DECODELAB_WORKER_METRICS_PORT": str(worker_port),
           "DECODELAB_DASHBOARD_METRICS_PORT": str(metrics_port), "DECODELAB_DEMO_CLASS": ""}
    prometheus_config(f"127.0.0.1:{worker_port}", f"127.0.0.1:{metrics_port}", tmp_path / "prometheus.yml")
    processes = [
        started([sys.executable, "-m", "worker"], tmp_path / "worker.log", env),
        started([sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.port",
                 str(dashboard_port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                tmp_path / "streamlit.log", env),
        started(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                tmp_path / "prometheus.log"),
    ]
    api, url = f"http://127.0.0.1:{prometheus_port}", f"http://127.0.0.1:{dashboard_port}"
    try:
        wait_for(lambda: _healthy(url), timeout=90, message="streamlit to answer")

        async def press() -> None:
            tab = await joined(url)  # opens a session: the page's first run starts the dashboard's /metrics
            await press_run(tab)
            await tab.close()

        asyncio.run(press())
        [submission] = store.student_submissions(TEST_CLASS, "s1")
        wait_for(lambda: store.submission(submission).status == "done", timeout=120, message="the submission")
        tokens = "decodelab_worker_generated_tokens_total"
        completed = "decodelab_worker_submissions_completed_total"
        wait_for(lambda: query(api, tokens).get("model=random-tiny", 0) >= 3 * 80
                 and query(api, completed).get("model=random-tiny", 0) >= 1, timeout=60, interval=1,
                 message="Prometheus to scrape the worker's tokens and the finished submission")
        assert query(api, "count(up == 1)") == {"": 2.0}  # the worker and the dashboard
        assert query(api, 'decodelab_dashboard_presses_total') == {"lab=decoding": 1.0}
        assert query(api, "decodelab_dashboard_press_to_banner_seconds_count") == {"": 1.0}
        assert 0 < query(api, "decodelab_dashboard_press_to_banner_seconds_sum")[""] < 10
        assert query(api, 'decodelab_workers_ready{job="decodelab-dashboard"}') == {"model=random-tiny": 1.0}
        assert query(api, 'decodelab_queue_depth{job="decodelab-dashboard"}') == {"model=random-tiny": 0.0}
        assert query(api, "decodelab_worker_model_info") == {
            "device=cpu,dtype=float32,kind=random,model=random-tiny": 1.0}
        phases = query(api, "decodelab_worker_step_seconds_count")
        assert {key.split("phase=")[1] for key in phases} == {"model", "sampling", "host"}
        assert min(phases.values()) >= 79  # one decode step per token after the first
        assert query(api, "decodelab_worker_admission_wait_seconds_count") == {"model=random-tiny": 1.0}
        assert query(api, "decodelab_worker_submissions_completed_total") == {"model=random-tiny": 1.0}
        assert "decodelab_dashboard_sessions" in json.dumps(
            json.loads(urllib.request.urlopen(f"{api}/api/v1/label/__name__/values", timeout=5).read()))
        board = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "decodelab.json").read_text())
        answered = [panel["title"] for panel in board["panels"]  # query() asserts each is valid PromQL
                    if any(query(api, target["expr"]) for target in panel["targets"])]
        assert len(answered) >= len(board["panels"]) - 1, answered  # all but failures (none happened)
        rules = json.loads(urllib.request.urlopen(f"{api}/api/v1/rules", timeout=5).read())["data"]["groups"]
        assert {rule["name"] for group in rules for rule in group["rules"]} == {
            "DecodeLabNoWorkerForQueuedWork", "DecodeLabQueueWaitHigh", "DecodeLabFailuresRising"}
        print(f"press to banner {query(api, 'decodelab_dashboard_press_to_banner_seconds_sum')[''] * 1000:.0f} ms; "
              f"tokens {query(api, tokens)['model=random-tiny']:.0f}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_dashboard_counts_its_sandboxed_regex_children():
    from dashboard.metrics import _sandbox_children
    from shared.teaching.pattern_sandbox import PatternRun

    assert _sandbox_children() == 0
    run = PatternRun(r"((\w|\W)+)+\d{9}", ["a" * 3000] * 20, budget_seconds=20)  # backtracks for seconds
    try:
        wait_for(lambda: _sandbox_children() == 1, timeout=10, interval=0.02, message="the child to be counted")
    finally:
        run.cancel()
    wait_for(lambda: _sandbox_children() == 0, timeout=10, message="the ended child to leave the count")
