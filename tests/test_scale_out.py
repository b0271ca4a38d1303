"""Two real dashboard processes behind Debian's nginx, configured from docker/nginx.conf: the one holding
a student's WebSocket is SIGKILLed, and the student's browser carries on through the other, still signed
in (the URL session token), without typing anything. Needs nginx and chromium (`.ci/run` installs both)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.embedded_redis import free_port
from tests.conftest import ROOT, TEST_CLASS, _healthy, settings_env, wait_for
from tests.test_browser import CHROMIUM, browser  # noqa: F401 - the browser fixture

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not (Path(NGINX).exists() and Path(CHROMIUM).exists()),
                                reason="needs Debian's nginx and chromium (apt-get install -y nginx-light chromium)")


def nginx_conf(tmp: Path, listen: int, upstreams: list[int], source: str = "nginx.conf", tls_listen: int = 0,
               certs: Path | None = None) -> Path:
    """docker/`source` with this machine's ports, run as an unprivileged, foreground nginx; its access log
    in `tmp`/access.log. `tls_listen`, `certs`: the HTTPS port and the certificate's folder (nginx-tls.conf)."""
    conf = (ROOT / "docker" / source).read_text()
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" for port in upstreams)
    conf = conf.replace("        server dashboard:8501 max_fails=1 fail_timeout=10s;", servers)
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    conf = conf.replace("listen 443 ssl;", f"listen 127.0.0.1:{tls_listen} ssl;")
    conf = conf.replace("/etc/nginx/certs", str(certs or tmp))
    conf = conf.replace("/var/log/nginx/access.log", f"{tmp}/access.log")
    conf = conf.replace("worker_processes auto;", f"worker_processes 1;\npid {tmp}/nginx.pid;\n"
                        f"error_log {tmp}/error.log;\ndaemon off;")
    conf = conf.replace("http {", f"http {{\n    client_body_temp_path {tmp}/body;\n"
                        f"    proxy_temp_path {tmp}/proxy;\n    fastcgi_temp_path {tmp}/fastcgi;\n"
                        f"    uwsgi_temp_path {tmp}/uwsgi;\n    scgi_temp_path {tmp}/scgi;")
    path = tmp / "nginx.conf"
    path.write_text(conf)
    return path


def websocket_holder(ports: list[int]) -> int | None:
    """The dashboard port with an established connection (the proxied WebSocket), read from /proc."""
    held = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "01":  # ESTABLISHED
                held.add(int(local.split(":")[1], 16))
    holders = [p for p in ports if p in held]
    return holders[0] if len(holders) == 1 else None


@pytest.fixture
def two_dashboards_behind_nginx(settings, store, tmp_path):
    env = {**settings_env(settings), "DECODELAB_DEMO_CLASS": ""}
    ports, processes = [free_port(), free_port()], {}
    for port in ports:
        processes[port] = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
            stdout=open(tmp_path / f"streamlit-{port}.log", "wb"), stderr=subprocess.STDOUT)
    listen = free_port()
    proxy = subprocess.Popen([NGINX, "-c", str(nginx_conf(tmp_path, listen, ports)), "-p", str(tmp_path)],
                             stdout=open(tmp_path / "nginx.out", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{listen}"
    try:
        for port in ports:
            wait_for(lambda: _healthy(f"http://127.0.0.1:{port}"), timeout=60, message="streamlit")
        wait_for(lambda: _healthy(url), timeout=30, message="nginx")
        yield url, ports, processes
    finally:
        for process in [*processes.values(), proxy]:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)


def test_a_dashboard_dies_and_the_student_carries_on_through_the_other_still_signed_in(
        two_dashboards_behind_nginx, browser):
    url, ports, processes = two_dashboards_behind_nginx
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.goto(url)
    page.get_by_label("Tu nombre").fill("Noa")
    page.get_by_label("Código de clase", exact=True).fill(TEST_CLASS)
    page.get_by_role("button", name="Entrar").click()
    page.get_by_text(f"Estás en la clase {TEST_CLASS} como Noa.").wait_for(timeout=30_000)
    assert "session=" in page.url
    holder = wait_for(lambda: websocket_holder(ports), timeout=20, message="one dashboard holding the WebSocket")
    processes[holder].send_signal(signal.SIGKILL)
    processes[holder].wait(timeout=10)
    survivor = [p for p in ports if p != holder][0]
    wait_for(lambda: websocket_holder([survivor]) == survivor, timeout=60, message="the browser to reconnect")
    page.get_by_text(f"Estás en la clase {TEST_CLASS} como Noa.").wait_for(timeout=60_000)
    page.get_by_role("link", name="Decodificación").click()  # the first thing done on the new server
    page.get_by_role("button", name="Ejecutar").wait_for(timeout=60_000)  # signed in: the lab, not "join first"
    assert "session=" in page.url  # signed in: the lab, not "join first"
