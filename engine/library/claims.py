"""Work shared by claims: any number of `ris index` processes, on one machine or many, index one
PostgreSQL library side by side, each file by exactly one of them.

An indexer claims a file just before it decodes it. A claim is a row of `ris.claims` with a
lease that the holder's heartbeat renews and a fencing token that is new at every claim. The
commit of a file's faces ends its claim in the same transaction, and only if the token is still
the holder's (`PostgresCatalog._end_claim`): an indexer paused past its lease (SIGSTOP, a VM
suspended, a network cut) finds its file taken over, and its work is refused, never committed
twice. A claim whose lease ran out (its holder killed) is taken over by whoever asks next; a
file whose claims keep running out is given up after `MAX_ATTEMPTS` and recorded as failed.

A commit holds its claim's row locked until it ends. A holder paused between two statements
of its commit is ended by the server (`idle_in_transaction_session_timeout`, the lease); one
paused while sending a statement (a COPY, a pipeline of inserts) is not idle to the server,
which would wait on it for ever. So a claim waits on a locked row for a moment only
(`lock_timeout`), and once the row's lease has run out with its commit standing still for a
lease, the server is asked to end that commit's session (`pg_terminate_backend`): the commit
is rolled back whole, and its holder, resumed, finds its claim taken over.
"""

from __future__ import annotations

import os
import socket
import threading
from contextlib import suppress
from typing import TYPE_CHECKING

from engine.library.catalog import Fence
from engine.library.postgres_catalog import SCHEMA, connect, reported
from engine.library.roots import Roots

if TYPE_CHECKING:
    import psycopg

MAX_ATTEMPTS = 3  # claims of one file that ran out before it is given up
_CLAIMS = f"{SCHEMA}.claims"


class _Passed(Exception):
    """A PostgreSQL error of a kind the caller of `Claims._sql` handles itself."""


def this_indexer() -> str:
    """How a claim and a committed file name the process that holds or made them."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(owner: str) -> bool:
    """Whether a claim's holder was a process of this machine that no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return False


class Claims:
    """This process's claims on one library, on a connection of their own, renewed every
    `lease / 4` seconds by a heartbeat thread while they are held."""

    def __init__(self, uri: str, lease: float = 60.0, roots: Roots | None = None) -> None:
        self.uri = uri
        self.roots = roots or Roots()  # claims name files as the catalog does
        self.lease = lease
        self.owner = this_indexer()
        self._db: psycopg.Connection = connect(uri)
        with reported(uri):  # a row a commit holds is waited on this long, then looked into
            self._db.execute(
                "SELECT set_config('lock_timeout', %s, false)",
                (str(max(100, round(min(lease / 4, 2.0) * 1000))),),
            )
        self._lock = threading.Lock()  # one statement at a time on the connection
        self._held: dict[str, int] = {}  # path -> token
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name="ris-claims")
        self._beat.start()

    def _sql(
        self, sql: str, args: tuple[object, ...] = (), passed: tuple[type[Exception], ...] = ()
    ) -> list[tuple]:
        """Run one statement; PostgreSQL's errors become a CatalogError, but for those of
        the `passed` kinds, which come through as they are."""
        with self._lock, reported(self.uri):
            try:
                cur = self._db.execute(sql, args)  # type: ignore[arg-type]
            except passed as err:
                raise _Passed(err) from err
            return cur.fetchall() if cur.description else []

    def claim(self, path: str) -> tuple[Fence, int] | None:
        """Claim a file: (its fence, the how-manieth claim of it this is), or None while
        another indexer's lease on it runs or its commit of it is under way."""
        import psycopg

        try:
            return self._claim(path, (psycopg.errors.LockNotAvailable,))
        except _Passed:  # its row is locked: a commit of it is under way, or stands still
            self._end_stalled_commit(path)
            return None  # asked again at the next turn

    def _claim(self, path: str, passed: tuple[type[Exception], ...]) -> tuple[Fence, int] | None:
        rows = self._sql(
            f"INSERT INTO {_CLAIMS} (path, owner, token, expires) "
            f"VALUES (%s, %s, nextval('{SCHEMA}.claim_tokens'), "
            "clock_timestamp() + make_interval(secs => %s)) "
            "ON CONFLICT (path) DO UPDATE SET owner = excluded.owner, token = excluded.token, "
            f"expires = excluded.expires, attempts = {_CLAIMS}.attempts + 1 "
            f"WHERE {_CLAIMS}.expires < clock_timestamp() "
            "RETURNING token, attempts",
            (self.roots.stored(path), self.owner, self.lease),
            passed,
        )
        if not rows:
            rows = self._take_from_the_dead(path, passed)
        if not rows:
            return None
        token, attempts = rows[0]
        with self._lock:
            self._held[path] = int(token)
        return Fence(self.owner, int(token)), int(attempts)

    def _end_stalled_commit(self, path: str) -> None:
        """A claim's row is locked by a commit. If the claim's lease has run out and that
        commit has not moved for a lease, its holder is paused mid-statement: have the server
        end its session (the commit rolls back). A role not allowed to do so waits instead."""
        import psycopg

        rows = self._sql(
            f"SELECT a.pid FROM {_CLAIMS} c JOIN pg_stat_activity a ON a.backend_xid = c.xmax "
            "WHERE c.path = %s AND c.expires < clock_timestamp() "
            "AND a.state_change < clock_timestamp() - make_interval(secs => %s)",
            (self.roots.stored(path), self.lease),
        )
        for (pid,) in rows:  # another role's session is left: its lease runs on till it resumes
            with suppress(_Passed):
                self._sql(
                    "SELECT pg_terminate_backend(%s)",
                    (pid,),
                    (psycopg.errors.InsufficientPrivilege,),
                )

    def _take_from_the_dead(self, path: str, passed: tuple[type[Exception], ...]) -> list[tuple]:
        """A live claim whose holder was a process of this machine that is gone (killed, or
        cut off from the server) is taken over now, not when its lease runs out."""
        rows = self._sql(
            f"SELECT owner, token FROM {_CLAIMS} WHERE path = %s", (self.roots.stored(path),)
        )
        if not rows or not _dead_here(rows[0][0]):
            return []
        return self._sql(
            f"UPDATE {_CLAIMS} SET owner = %s, token = nextval('{SCHEMA}.claim_tokens'), "
            "expires = clock_timestamp() + make_interval(secs => %s), attempts = attempts + 1 "
            "WHERE path = %s AND token = %s RETURNING token, attempts",
            (self.owner, self.lease, self.roots.stored(path), rows[0][1]),
            passed,
        )

    def held_elsewhere(self, paths: list[str]) -> set[str]:
        """Which of `paths` another live indexer holds a live claim on now."""
        if not paths:
            return set()
        rows = self._sql(
            f"SELECT path, owner FROM {_CLAIMS} WHERE path = ANY(%s) AND owner <> %s "
            "AND expires >= clock_timestamp()",
            ([self.roots.stored(p) for p in paths], self.owner),
        )
        return {self.roots.loaded(r[0]) for r in rows if not _dead_here(r[1])}

    def done(self, path: str) -> None:
        """Forget a claim the commit ended (or that was lost)."""
        with self._lock:
            self._held.pop(path, None)

    def release(self, path: str) -> None:
        """Give a claim back unused (the file turned out to be done already)."""
        token = self._held.get(path)
        if token is not None:
            self._sql(
                f"DELETE FROM {_CLAIMS} WHERE path = %s AND token = %s",
                (self.roots.stored(path), token),
            )
            self.done(path)

    def _heartbeat(self) -> None:
        while not self._stop.wait(max(0.2, self.lease / 4)):
            with self._lock:
                tokens = list(self._held.values())
            if not tokens:
                continue
            try:
                self._sql(  # a claim this process is committing is left out (its row is locked)
                    f"UPDATE {_CLAIMS} SET expires = clock_timestamp() + "
                    "make_interval(secs => %s) WHERE path IN (SELECT path FROM "
                    f"{_CLAIMS} WHERE owner = %s AND token = ANY(%s) FOR UPDATE SKIP LOCKED)",
                    (self.lease, self.owner, tokens),
                )
            except Exception:  # the server is away: the commit will say so, or be refused
                continue

    def close(self) -> None:
        """Stop renewing, give back what is still held (an interrupted run), and disconnect."""
        self._stop.set()
        self._beat.join(timeout=5)
        with self._lock:
            held = list(self._held.items())
        try:
            for path, token in held:
                self._sql(
                    f"DELETE FROM {_CLAIMS} WHERE path = %s AND token = %s",
                    (self.roots.stored(path), token),
                )
        except Exception:
            pass  # they run out by themselves
        finally:
            self._db.close()
