"""`ropsms run`: set up and start every process on the embedded default (ARCHITECTURE.md "Processes").

Migrates, loads the demo data, then supervises web, gateway, scheduler and the SMSC simulator
(those that exist) as child processes, restarting one that dies, until Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

from ropsms.ops.demo import demo_login

# (command, extra arguments); a command that does not exist yet is simply not started.
PROCESSES = [("smsc_sim", []), ("gateway", []), ("scheduler", []), ("smpp_server", []), ("web", [])]


class Command(BaseCommand):
    help = "Migrate, load demo data and run every process (web, gateway, scheduler, SMSC simulator)."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="do not load demo data")
        parser.add_argument("--port", type=int, default=settings.ROPSMS["WEB_PORT"])

    def handle(self, *args, **opts):
        call_command("migrate", interactive=False, verbosity=0)
        if not opts["no_demo"]:
            call_command("demo_data")
            # The demo's callback receivers run on this machine (README walk-through): let the
            # children call loopback, which api/destinations.py refuses otherwise.
            os.environ.setdefault("ROPSMS_CALLBACK_ALLOW_NETWORKS", "127.0.0.1/32,::1/128")
        known = get_commands()
        wanted = [(name, extra) for name, extra in PROCESSES if name in known]
        children: dict[str, subprocess.Popen] = {}
        restarts: dict[str, int] = {}

        def start(name: str, extra: list[str]) -> None:
            argv = [sys.executable, "-m", "ropsms.cli", name, *extra]
            if name == "web":
                argv += ["--port", str(opts["port"])]
            children[name] = subprocess.Popen(argv)

        for name, extra in wanted:
            start(name, extra)
        self._banner(opts["port"], [n for n, _ in wanted])
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while not stopping:
                time.sleep(0.5)
                for name, extra in wanted:
                    code = children[name].poll()
                    if code is not None and not stopping:
                        restarts[name] = restarts.get(name, 0) + 1
                        self.stderr.write(f"{name} exited with {code}; restarting ({restarts[name]})")
                        time.sleep(min(30, 2 ** restarts[name]))
                        start(name, extra)
        finally:
            for proc in children.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for proc in children.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()

    def _banner(self, port: int, names: list[str]) -> None:
        r = settings.ROPSMS
        lines = ["", "ropsms is running (Ctrl-C to stop):", f"  portal     http://127.0.0.1:{port}/",
                 f"  admin      http://127.0.0.1:{port}/admin/",
                 f"  API docs   http://127.0.0.1:{port}/api/docs"]
        if "smsc_sim" in names:
            lines.append(f"  phones     http://127.0.0.1:{r['SIM_WEB_PORT']}/  (SMSC simulator, SMPP on "
                         f"{r['SIM_HOST']}:{r['SIM_PORT']})")
        login = demo_login()
        if login:
            lines.append(f"  login      {login[0]} / {login[1]}")
        lines.append(f"  processes  {', '.join(names)}")
        self.stdout.write("\n".join(lines) + "\n")
