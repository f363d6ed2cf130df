"""Helpers for tests and benchmarks that run the real processes: free ports, waiting for a server,
Debian's Chromium, and a whole stack (migrate + demo data + chosen processes) on a temporary SQLite
file. Shared so every end-to-end test starts the system the same way `ropsms run` does."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying hosts this closed network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CLI = [sys.executable, "-m", "ropsms.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, tries: int = 300, proc: subprocess.Popen | None = None) -> bytes:
    """Wait (up to tries x 0.1 s) until `url` answers at all; return the body. With `proc` (the
    server's process, output piped as text), stop at once if it exited, with what it printed."""
    for _ in range(tries):
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (ours)
            return response.read()
        if proc is not None and proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"the server for {url} exited ({proc.returncode}): {output}")
        time.sleep(0.1)
    if proc is not None:
        proc.kill()
    raise RuntimeError(f"{url} did not answer")


def require_chromium() -> None:
    """Skip a browser test where Chromium is missing, except in CI, where that is a failure."""
    import pytest

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed")


def stack_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for child processes sharing a SQLite file in `tmp`, on free ports."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ROPSMS_PG_RUN"}}
    env.update(ROPSMS_VAR_DIR=str(tmp), ROPSMS_SQLITE_PATH=str(tmp / "stack.sqlite3"),
               ROPSMS_SIM_PORT=str(free_port()), ROPSMS_SIM_WEB_PORT=str(free_port()),
               ROPSMS_WEB_PORT=str(free_port()), ROPSMS_LOG_LEVEL="WARNING")
    env.update(extra)
    return env


@contextlib.contextmanager
def process_stack(tmp: Path, env: Mapping[str, str], processes: Mapping[str, Sequence[str]]) -> Iterator[None]:
    """Migrate and load demo data in `tmp`, run `processes` (command -> extra args), stop them after."""
    subprocess.run([*CLI, "migrate", "-v0"], env=env, check=True, cwd=tmp)
    subprocess.run([*CLI, "demo_data"], env=env, check=True, cwd=tmp, stdout=subprocess.DEVNULL)
    logs = {name: (tmp / f"{name}.log").open("w") for name in processes}
    procs = [subprocess.Popen([*CLI, name, *extra], env=env, cwd=tmp, stdout=logs[name], stderr=subprocess.STDOUT)
             for name, extra in processes.items()]
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for fh in logs.values():
            fh.close()
