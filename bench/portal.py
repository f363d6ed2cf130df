"""Benchmark: a portal broadcast to a whole directorate of N staff (default 10,000), personalised
with {rank} {name}; prints the time from "Send" to queued rows, and the cost of one progress poll
and one report page.

    .venv/bin/python bench/portal.py [--n 10000]

Runs on a fresh SQLite file in a temporary directory (the embedded default).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="ropsms-bench-portal-")
    os.environ.update(ROPSMS_VAR_DIR=tmp, ROPSMS_SQLITE_PATH=os.path.join(tmp, "bench.sqlite3"))
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ropsms.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from ropsms.directory.models import OrgUnit, Person
    from ropsms.messaging.models import Message
    from ropsms.portal import services as svc
    from ropsms.portal.access import portal_user
    from ropsms.portal.models import Profile, UnitPolicy

    call_command("migrate", verbosity=0, interactive=False)
    top = OrgUnit.objects.create(code="BENCH", name_en="Bench directorate", name_ar="مديرية", kind="directorate")
    sections = [OrgUnit.objects.create(code=f"BENCH-{i}", name_en=f"Section {i}", name_ar=f"قسم {i}",
                                       kind="section", parent=top) for i in range(20)]
    Person.objects.bulk_create([
        Person(kind="staff", name_en=f"Staff {i}", name_ar=f"موظف {i}", rank="Sergeant",
               mobile=f"+9689{i + 1000000:07d}", org_unit=sections[i % 20]) for i in range(args.n)], batch_size=2000)
    UnitPolicy.objects.create(org_unit=top, approval_threshold=args.n + 1)
    user = get_user_model().objects.create_user(username="bench", password="x-Long-pass-123")
    Profile.objects.create(user=user, org_unit=top, roles=["sender"])
    pu = portal_user(user)

    t0 = time.perf_counter()
    b = svc.create_broadcast(pu=pu, unit=top, title="Bench", text="{rank} {name}: اجتماع الساعة 9 صباحا",
                             selection=svc.Selection(units=[top.pk]))
    send = time.perf_counter() - t0
    assert Message.objects.filter(batch=b.batch).count() == args.n
    t0 = time.perf_counter()
    for _ in range(20):
        svc.progress(b)
    poll = (time.perf_counter() - t0) / 20
    t0 = time.perf_counter()
    rows = list(svc.report_rows(b, list(svc.report_messages(b)[:100])))
    page = time.perf_counter() - t0
    assert len(rows) == 100
    print(f"broadcast to {args.n} staff (resolve + personalise + send_many): {send:.2f} s "
          f"({args.n / send:,.0f} recipients/s)")
    print(f"progress poll (Batch.counts): {poll * 1000:.1f} ms; report page of 100 rows: {page * 1000:.1f} ms")


if __name__ == "__main__":
    main()
