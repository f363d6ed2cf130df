"""The `ropsms` command: the project's one command, and Django's manage command too.

`ropsms migrate` works like `manage.py migrate`; the project's own subcommands (send, status,
demo-data, web, gateway, scheduler, smsc-sim, phone, run, ...) are management commands whose
dashed names map to their module names.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ropsms.settings")
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
