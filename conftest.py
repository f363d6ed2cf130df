"""Shared test set-up.

PostgreSQL: `make test` runs the suite on SQLite, then the tests marked `pg` a second time with
DATABASE_URL pointing at ROPSMS_TEST_DATABASE_URL. In CI (CI=true) a missing PostgreSQL is an error,
never a silent skip.
"""

import os

import pytest
from hypothesis import settings as hypothesis_settings

# In CI the property tests run the same examples every time (a red CI must mean a real regression,
# not an unlucky draw); on a developer's machine they keep exploring new examples.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("ROPSMS_PG_RUN") and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise pytest.UsageError("the PostgreSQL run needs DATABASE_URL=postgres://...")


@pytest.fixture
def on_postgres():
    from django.db import connection

    return connection.vendor == "postgresql"


def pytest_sessionfinish(session, exitstatus):
    """In CI's PostgreSQL run a skipped test is a failure: it would hide an untested path."""
    if not (os.environ.get("CI") and os.environ.get("ROPSMS_PG_RUN")):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"{len(skipped)} test(s) skipped in the PostgreSQL run; failing as CI requires")
        session.exitstatus = 1
