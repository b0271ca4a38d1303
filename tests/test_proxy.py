"""The dashboard behind Debian's nginx, configured from docker/nginx.conf and docker/nginx-tls.conf: the
client's address is the one nginx saw (a student's wrong passwords do not lock out the instructor on
another machine; joins are limited per client, and a client without the browser cookie cannot join);
TLS with a self-signed certificate, HTTP redirected to HTTPS; tokens never in the access log.

Clients on other machines are played by other loopback source addresses (127.0.0.2, 127.0.0.3...), which
nginx sees as distinct clients. Needs nginx and openssl (`.ci/run` installs nginx-light)."""

from __future__ import annotations

import asyncio
import http.server
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from bench.st_client import Tab
from devtools.embedded_redis import free_port
from tests.conftest import ROOT, TEST_CLASS, _healthy, settings_env, wait_for
from tests.test_scale_out import NGINX, nginx_conf

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(not (Path(NGINX).exists() and OPENSSL),
                                reason="needs Debian's nginx and openssl (apt-get install -y nginx-light openssl)")
LOGGED_IN = "Sesión de profesor/a iniciada."
LOGIN_ANSWER = r"Contraseña incorrecta|Demasiados intentos fallidos|Sesión de profesor/a iniciada"


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def dashboard_behind_nginx(settings, store, tmp_path):
    """One dashboard that trusts nginx (on this machine) to name the client; nginx's URL."""
    port, listen = free_port(), free_port()
    env = {**settings_env(settings), "DECODELAB_DEMO_CLASS": "", "DECODELAB_TRUSTED_PROXIES": "127.0.0.1",
           "DECODELAB_JOINS_PER_ADDRESS_PER_HOUR": "2"}
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
        stdout=open(tmp_path / "streamlit.log", "wb"), stderr=subprocess.STDOUT)
    proxy = subprocess.Popen([NGINX, "-c", str(nginx_conf(tmp_path, listen, [port])), "-p", str(tmp_path)],
                             stdout=open(tmp_path / "nginx.out", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{listen}"
    try:
        wait_for(lambda: _healthy(f"http://127.0.0.1:{port}"), timeout=60, message="streamlit")
        wait_for(lambda: _healthy(url), timeout=30, message="nginx")
        yield url
    finally:
        stop(dashboard), stop(proxy)


async def opened(url: str, source: str, cookies: bool = True, page: str = "") -> Tab:
    tab = Tab(url, source=source, cookies=cookies)
    await tab.open("/")
    await tab.wait_for(lambda: tab.has("button", "Entrar") and tab.settled(), 60)
    if page:
        await tab.click_link(page)
        await tab.wait_for(lambda: tab.has("text_input", "Contraseña") and tab.settled(), 60)
    return tab


async def log_in(tab: Tab, password: str) -> str:
    """Type the password, press Entrar; the answer drawn."""
    answer = tab.watch(LOGIN_ANSWER)
    tab.type("Contraseña", password)
    await tab.press("Entrar")
    await asyncio.wait_for(answer, 30)
    await tab.wait_for(tab.settled, 30)
    return next(text for text in tab.texts() if text.startswith(("Contraseña incorrecta", "Demasiados", LOGGED_IN)))


def test_a_students_wrong_passwords_behind_nginx_do_not_lock_out_the_instructor(dashboard_behind_nginx, settings):
    async def flow():
        for _ in range(5):  # five fresh sessions (new cookies): 25 wrong guesses from one machine
            student = await opened(dashboard_behind_nginx, "127.0.0.2", page="Profesor/a")
            for _ in range(5):
                await log_in(student, "guess")
            await student.close()
        student = await opened(dashboard_behind_nginx, "127.0.0.2", page="Profesor/a")
        assert (await log_in(student, settings.instructor_password)).startswith("Demasiados")  # a new session
        teacher = await opened(dashboard_behind_nginx, "127.0.0.3", page="Profesor/a")      # another machine
        assert await log_in(teacher, settings.instructor_password) == LOGGED_IN
        await student.close(), await teacher.close()

    asyncio.run(flow())


def test_a_new_session_does_not_start_a_fresh_count_of_wrong_passwords(dashboard_behind_nginx):
    async def flow():
        script = await opened(dashboard_behind_nginx, "127.0.0.6", cookies=False, page="Profesor/a")
        failures = 0
        while failures < 8:  # 5 free, then waits of 2 and 4 s; the 8th makes the next attempt wait 8 s
            if (await log_in(script, "guess")).startswith("Demasiados"):
                await asyncio.sleep(1)
            else:
                failures += 1
        await script.close()
        again = await opened(dashboard_behind_nginx, "127.0.0.6", cookies=False, page="Profesor/a")
        assert (await log_in(again, "guess")).startswith("Demasiados")  # a new session: still waiting
        await again.close()

    asyncio.run(flow())


async def join(url: str, source: str, name: str, cookies: bool = True) -> str:
    tab = await opened(url, source, cookies)
    answer = tab.watch(r"Estás en la clase|cookie|desde esta red")
    tab.type("Tu nombre", name)
    tab.type("Código de clase", TEST_CLASS)
    await tab.press("Entrar")
    await asyncio.wait_for(answer, 30)
    await tab.close()
    return next(t for t in tab.texts() if t.startswith(("Estás en la clase", "Tu navegador", "Demasiadas")))


def test_behind_nginx_joins_need_the_browser_cookie_and_are_limited_per_client(dashboard_behind_nginx, store):
    async def flow():
        assert (await join(dashboard_behind_nginx, "127.0.0.4", "Bot", cookies=False)).startswith("Tu navegador")
        assert (await join(dashboard_behind_nginx, "127.0.0.4", "Ana")).startswith("Estás en la clase")
        assert (await join(dashboard_behind_nginx, "127.0.0.4", "Ana 2")).startswith("Estás en la clase")
        assert (await join(dashboard_behind_nginx, "127.0.0.4", "Ana 3")).startswith("Demasiadas")  # fresh cookie
        assert (await join(dashboard_behind_nginx, "127.0.0.5", "Bea")).startswith("Estás en la clase")

    asyncio.run(flow())
    assert sorted(row["label"] for row in map(__import__("json").loads,
                                              store.redis.hvals(store.keys.students(TEST_CLASS)))) == ["Ana", "Ana 2",
                                                                                                       "Bea"]


# --- TLS and the access log ----------------------------------------------------------------------------
class Upstream(http.server.BaseHTTPRequestHandler):
    """Stands in for a dashboard: answers 200 and keeps the headers nginx sent."""

    seen: list[dict] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        Upstream.seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Upstream.seen.clear()
    yield server.server_address[1]
    server.shutdown()


def self_signed(folder: Path) -> Path:
    """A certificate for 127.0.0.1 and localhost, made as docs/security.md says."""
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "2", "-nodes",
                    "-keyout", str(folder / "decodelab.key"), "-out", str(folder / "decodelab.crt"),
                    "-subj", "/CN=decodelab", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return folder / "decodelab.crt"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_nginx_serves_tls_redirects_http_and_logs_no_token(upstream, tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    certificate = self_signed(certs)
    listen, tls = free_port(), free_port()
    conf = nginx_conf(tmp_path, listen, [upstream], source="nginx-tls.conf", tls_listen=tls, certs=certs)
    checked = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proxy = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.DEVNULL)
    try:
        context = ssl.create_default_context(cafile=str(certificate))  # verified, not skipped
        wait_for(lambda: _answers(f"https://127.0.0.1:{tls}/_stcore/health", context), timeout=30, message="nginx")
        with pytest.raises(urllib.error.HTTPError) as moved:
            urllib.request.build_opener(NoRedirect).open(f"http://127.0.0.1:{listen}/?session=SECRET-TOKEN", timeout=5)
        assert moved.value.code == 301 and moved.value.headers["Location"].startswith("https://127.0.0.1/")
        reply = urllib.request.urlopen(f"https://127.0.0.1:{tls}/?session=SECRET-TOKEN", context=context, timeout=5)
        assert reply.status == 200
    finally:
        stop(proxy)
    last = Upstream.seen[-1]
    assert last["X-Forwarded-Proto"] == "https" and last["X-Real-IP"] == "127.0.0.1"
    log = (tmp_path / "access.log").read_text()
    assert '"GET / HTTP/1.1" 200' in log and '"GET / HTTP/1.1" 301' in log
    assert "SECRET-TOKEN" not in log and "session=" not in log


def test_the_plain_http_proxy_logs_no_token_and_names_the_client(upstream, tmp_path):
    listen = free_port()
    conf = nginx_conf(tmp_path, listen, [upstream])
    proxy = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{listen}/_stcore/health"), timeout=30, message="nginx")
        request = urllib.request.Request(f"http://127.0.0.1:{listen}/?session=SECRET-TOKEN",
                                         headers={"X-Forwarded-For": "6.6.6.6"})  # a client's own claim
        assert urllib.request.urlopen(request, timeout=5).status == 200
    finally:
        stop(proxy)
    last = Upstream.seen[-1]
    assert last["X-Real-IP"] == "127.0.0.1" and last["X-Forwarded-For"] == "6.6.6.6, 127.0.0.1"
    log = (tmp_path / "access.log").read_text()
    assert '"GET / HTTP/1.1" 200' in log and "SECRET-TOKEN" not in log


def test_both_proxy_configurations_proxy_the_same_way():
    def location(name: str) -> str:
        text = (ROOT / "docker" / name).read_text()
        return text[text.index("location / {"):]
    assert location("nginx-tls.conf").split("}")[0] == location("nginx.conf").split("}")[0]


def _answers(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        return urllib.request.urlopen(url, context=context, timeout=2).status == 200
    except OSError:
        return False
