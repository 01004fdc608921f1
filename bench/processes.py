"""What the benchmarks share for running a server in a process of its own: a free port, and a
start that returns once the server listens (a benchmark that timed a server still booting would
measure the boot)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(
    cmd: list[str], port: int, env: dict[str, str] | None = None, name: str = "server"
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` (run from the project's root) and wait, 30 s at most, until something
    accepts connections on ``port``; a process that ends first is reported with its last words."""
    process = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} did not start: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{name} did not listen within 30 s")


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
