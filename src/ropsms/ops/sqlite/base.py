"""SQLite with writers queued on a kernel lock instead of SQLite's busy handler.

SQLite lets one writer in at a time. A writer that finds the database locked is put to sleep by
SQLite's busy handler for fixed steps (1, 2, 5, 10, ... up to 100 ms) and does not notice when the
lock is freed in between. With the gateway, its MO worker, the web app and the scheduler all
writing, a reply could wait 200-500 ms for a lock that was free after 3 ms.

Here every write transaction (and every write statement outside one) first takes an exclusive
`flock` on `<database>.lock`. The kernel wakes a waiter the moment the holder lets go, so writers
queue for exactly as long as the writer ahead of them needs. Readers never take it (WAL lets them
read while one writes). The lock is per connection (per open file), so threads of one process
queue like processes do. SQLite's own busy timeout stays as the safety net for any process that
writes without this backend (the `sqlite3` shell, a backup tool).

Checkpoints (copying the WAL back into the database file, with an fsync) are moved off the
writers too: SQLite runs them inside the COMMIT of whichever writer crossed the WAL threshold,
which would then hold the lock through the fsync (tens of ms on a virtual disk). Here automatic
checkpoints are off, and a daemon thread per process checkpoints at most once a second after
this process wrote: first without the lock, then the remainder under it (see `Checkpointer`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import Callable

from django.db.backends.sqlite3 import base as sqlite_base

log = logging.getLogger(__name__)
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")


class WriteLock:
    """An exclusive flock on one open file; `acquire` is a no-op while held. `on_release` is called
    after each release (a write was committed or given up)."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.held = False
        self.on_release: Callable[[], None] | None = None

    def acquire(self) -> None:
        if not self.held:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            if self.on_release is not None:
                self.on_release()

    def close(self) -> None:
        self.release()
        os.close(self._fd)

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Checkpointer:
    """One per database file and process: PASSIVE checkpoints on its own connection."""

    interval = 1.0
    _all: dict[tuple[int, str], Checkpointer] = {}
    _all_lock = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = WriteLock(f"{path}.lock")
        self._wrote = threading.Event()
        threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True).start()

    @classmethod
    def for_path(cls, path: str) -> Checkpointer:
        key = (os.getpid(), path)  # a forked child starts its own thread
        with cls._all_lock:
            found = cls._all.get(key)
            if found is None:
                found = cls._all[key] = cls(path)
            return found

    def wrote(self) -> None:
        self._wrote.set()

    def _run(self) -> None:
        conn = None
        while True:
            self._wrote.wait()
            self._wrote.clear()
            try:
                if conn is None:
                    conn = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
                # Most of the copying (and its fsync) while writers go on; then, briefly holding the
                # write lock, the few frames they added meanwhile. The WAL is then fully copied, so
                # the next writer starts it again from the top: it stays small instead of growing
                # (and slowing every read) for as long as writers never pause.
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                with self._lock:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:
                log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
                if conn is not None:
                    conn.close()
                conn = None
            threading.Event().wait(self.interval)


class LockingCursor(sqlite_base.SQLiteCursorWrapper):
    """A write statement in autocommit mode (no transaction open) holds the lock while it runs."""

    write_lock: WriteLock | None = None

    def execute(self, query, params=None):
        if self._must_lock() and not _is_read(query):
            with self.write_lock:  # type: ignore[union-attr]
                return super().execute(query, params)
        return super().execute(query, params)

    def executemany(self, query, param_list):
        if self._must_lock():
            with self.write_lock:  # type: ignore[union-attr]
                return super().executemany(query, param_list)
        return super().executemany(query, param_list)

    def _must_lock(self) -> bool:
        lock = self.write_lock
        return lock is not None and not lock.held and not self.connection.in_transaction


def _is_read(query: str) -> bool:
    return query.lstrip()[:9].upper().startswith(_READS)


class DatabaseWrapper(sqlite_base.DatabaseWrapper):
    write_lock: WriteLock | None = None

    def get_new_connection(self, conn_params):
        conn = super().get_new_connection(conn_params)
        if self.write_lock is None and not self.is_in_memory_db():
            path = conn_params["database"]
            self.write_lock = WriteLock(f"{path}.lock")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                conn.execute("PRAGMA wal_autocheckpoint=0")
                self.write_lock.on_release = Checkpointer.for_path(path).wrote
        return conn

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=LockingCursor)
        cursor.write_lock = self.write_lock
        return cursor

    def _start_transaction_under_autocommit(self):
        if self.write_lock is not None and self.transaction_mode == "IMMEDIATE":
            self.write_lock.acquire()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release()

    def _close(self):
        try:
            return super()._close()
        finally:
            if self.write_lock is not None:
                self.write_lock.close()
                self.write_lock = None

    def _release(self) -> None:
        # Only once SQLite's transaction is over: a failed COMMIT leaves it open (and locked).
        lock = self.write_lock
        if lock is not None and not (self.connection is not None and self.connection.in_transaction):
            lock.release()
