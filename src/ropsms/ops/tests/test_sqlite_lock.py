"""The SQLite backend's write lock: writers queue on a kernel lock, readers never wait for it."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.db import connections, transaction

from ropsms.ops.sqlite.base import DatabaseWrapper

ALIAS = "locktest"


@pytest.fixture
def db_path(tmp_path: Path, django_db_blocker) -> str:
    path = str(tmp_path / "lock.sqlite3")
    with django_db_blocker.unblock():
        wrapper = _open(path)
        wrapper.cursor().execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        wrapper.close()
        yield path


def _open(path: str) -> DatabaseWrapper:
    """A connection of our backend to a file database, registered for this thread under ALIAS."""
    base = connections["default"].settings_dict
    if base["ENGINE"] != "ropsms.ops.sqlite":
        pytest.skip("the SQLite backend is not in use (PostgreSQL run)")
    wrapper = DatabaseWrapper({**base, "NAME": path}, alias=ALIAS)
    connections[ALIAS] = wrapper
    return wrapper


def _lock_is_free(path: str) -> bool:
    """Try the lock from another open file, as another process would."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the lock if we got it
    return True


def _lock_frees(path: str) -> bool:
    """The lock is free soon: the process's checkpoint thread may hold it a moment after a commit."""
    deadline = time.monotonic() + 5
    while not _lock_is_free(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_transaction_holds_the_lock_until_commit_or_rollback(db_path: str) -> None:
    wrapper = _open(db_path)
    with transaction.atomic(using=ALIAS):
        wrapper.cursor().execute("INSERT INTO t (v) VALUES ('a')")
        assert wrapper.write_lock.held and not _lock_is_free(db_path)
    assert not wrapper.write_lock.held and _lock_frees(db_path)
    with pytest.raises(RuntimeError), transaction.atomic(using=ALIAS):
        wrapper.cursor().execute("INSERT INTO t (v) VALUES ('b')")
        raise RuntimeError("roll back")
    assert not wrapper.write_lock.held and _lock_frees(db_path)
    assert wrapper.cursor().execute("SELECT v FROM t").fetchall() == [("a",)]
    wrapper.close()


def test_a_writer_waits_for_the_holder_and_goes_as_soon_as_it_lets_go(db_path: str) -> None:
    holder = os.open(f"{db_path}.lock", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another process is writing
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            wrapper = _open(db_path)
            wrapper.cursor().execute("INSERT INTO t (v) VALUES ('waited')")  # autocommit write
            wrapper.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        done.set()

    threading.Thread(target=write).start()
    assert not done.wait(0.3), "the write went ahead while another process held the lock"
    reader = _open(db_path)
    assert reader.cursor().execute("SELECT COUNT(*) FROM t").fetchone() == (0,)  # readers never wait
    fcntl.flock(holder, fcntl.LOCK_UN)
    os.close(holder)
    assert done.wait(10), "the writer did not go ahead once the lock was free"
    assert not errors
    assert reader.cursor().execute("SELECT v FROM t").fetchall() == [("waited",)]
    reader.close()


def test_writers_in_many_threads_all_commit(db_path: str) -> None:
    """Eight threads, each with its own connection, 50 short transactions each: nothing lost, no
    'database is locked' (the busy handler is never needed)."""
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            wrapper = _open(db_path)
            for i in range(50):
                with transaction.atomic(using=ALIAS):
                    wrapper.cursor().execute("INSERT INTO t (v) VALUES (%s)", [f"{n}-{i}"])
            wrapper.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    wrapper = _open(db_path)
    assert wrapper.cursor().execute("SELECT COUNT(DISTINCT v) FROM t").fetchone() == (400,)
    assert _lock_frees(db_path)
    wrapper.close()


def test_checkpoints_run_off_the_writers(db_path: str) -> None:
    """Writers never checkpoint (no fsync while they hold the lock); the process's checkpoint
    thread copies their commits into the database file shortly after."""
    wrapper = _open(db_path)
    assert wrapper.cursor().execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    for i in range(20):
        with transaction.atomic(using=ALIAS):
            wrapper.cursor().execute("INSERT INTO t (v) VALUES (%s)", [str(i) * 500])

    def rows_in_the_database_file() -> int:
        main_only = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)  # ignores the WAL
        try:
            return main_only.execute("SELECT COUNT(*) FROM t").fetchone()[0]
        except sqlite3.OperationalError:  # not even the table copied in yet
            return 0
        finally:
            main_only.close()

    deadline = time.monotonic() + 10
    while rows_in_the_database_file() < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rows_in_the_database_file() == 20
    wrapper.close()
