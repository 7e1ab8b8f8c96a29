"""Work shared by claims: any number of `ris index` processes, on one machine or many, index one
PostgreSQL library side by side, each file by exactly one of them.

An indexer claims a file just before it decodes it. A claim is a row of `ris.claims` with a
lease that the holder's heartbeat renews and a fencing token that is new at every claim. The
commit of a file's faces ends its claim in the same transaction, and only if the token is still
the holder's (`PostgresCatalog._end_claim`): an indexer paused past its lease (SIGSTOP, a VM
suspended, a network cut) finds its file taken over, and its work is refused, never committed
twice. A claim whose lease ran out (its holder killed) is taken over by whoever asks next; a
file whose claims keep running out is given up after `MAX_ATTEMPTS` and recorded as failed.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import TYPE_CHECKING

from engine.library.catalog import Fence
from engine.library.postgres_catalog import SCHEMA, connect, reported
from engine.library.roots import Roots

if TYPE_CHECKING:
    import psycopg

MAX_ATTEMPTS = 3  # claims of one file that ran out before it is given up
_CLAIMS = f"{SCHEMA}.claims"


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
        self._lock = threading.Lock()  # one statement at a time on the connection
        self._held: dict[str, int] = {}  # path -> token
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name="ris-claims")
        self._beat.start()

    def _sql(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple]:
        with self._lock, reported(self.uri):
            cur = self._db.execute(sql, args)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def claim(self, path: str) -> tuple[Fence, int] | None:
        """Claim a file: (its fence, the how-manieth claim of it this is), or None while
        another indexer's lease on it runs."""
        rows = self._sql(
            f"INSERT INTO {_CLAIMS} (path, owner, token, expires) "
            f"VALUES (%s, %s, nextval('{SCHEMA}.claim_tokens'), "
            "clock_timestamp() + make_interval(secs => %s)) "
            "ON CONFLICT (path) DO UPDATE SET owner = excluded.owner, token = excluded.token, "
            f"expires = excluded.expires, attempts = {_CLAIMS}.attempts + 1 "
            f"WHERE {_CLAIMS}.expires < clock_timestamp() "
            "RETURNING token, attempts",
            (self.roots.stored(path), self.owner, self.lease),
        )
        if not rows:
            rows = self._take_from_the_dead(path)
        if not rows:
            return None
        token, attempts = rows[0]
        with self._lock:
            self._held[path] = int(token)
        return Fence(self.owner, int(token)), int(attempts)

    def _take_from_the_dead(self, path: str) -> list[tuple]:
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
                self._sql(
                    f"UPDATE {_CLAIMS} SET expires = clock_timestamp() + "
                    "make_interval(secs => %s) WHERE owner = %s AND token = ANY(%s)",
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
