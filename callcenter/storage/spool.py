"""The write journal on local disk: what the database has not yet taken, and the dead letters.

A SQLite file under the run directory, written synchronously with `synchronous=FULL` (each
append is fsynced): the writer appends a batch before it tries the database and removes it
after the database took it, so an engine crash while the database is down loses nothing.
Rows the database refused wait in `dead` until an operator replays or drops them."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Spooled:
    seq: int
    kind: str
    payload: str  # JSON


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    kind: str
    payload: str
    error: str
    at: datetime


class Spool:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # the writer journals from a worker thread; one statement sequence at a time
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS pending "
            "(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS dead (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "kind TEXT NOT NULL, payload TEXT NOT NULL, error TEXT NOT NULL, at TEXT NOT NULL)"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, entries: Iterable[Spooled]) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO pending (seq, kind, payload) VALUES (?, ?, ?)",
                [(e.seq, e.kind, e.payload) for e in entries],
            )

    def written(self, seqs: Iterable[int]) -> None:
        """The database took these: forget them. Not fsynced (an fsync per batch of the write
        path): the next append's fsync carries it, and only an operating-system crash in
        between could bring the batch back, to be written again at the next start."""
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.executemany("DELETE FROM pending WHERE seq = ?", [(s,) for s in seqs])
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def take_over(self, peer: Path) -> int:
        """Move the pending rows of another engine's journal (an engine that died while leading,
        its journal on storage both can reach) behind this journal's own; returns how many."""
        if not peer.exists() or peer.resolve() == self.path.resolve():
            return 0
        other = sqlite3.connect(peer, isolation_level=None)
        try:
            other.execute("PRAGMA busy_timeout=2000")
            try:
                rows = other.execute("SELECT kind, payload FROM pending ORDER BY seq").fetchall()
            except sqlite3.OperationalError:
                return 0  # not a journal (yet)
            if not rows:
                return 0
            with self._lock, self._db:
                self._db.execute("BEGIN")
                last = self._db.execute("SELECT coalesce(max(seq), 0) FROM pending").fetchone()
                start = int(last[0]) + 1
                self._db.executemany(
                    "INSERT INTO pending (seq, kind, payload) VALUES (?, ?, ?)",
                    [
                        (start + i, str(kind), str(payload))
                        for i, (kind, payload) in enumerate(rows)
                    ],
                )
            # only once they are safely in this journal: a crash in between writes them twice,
            # which the writer's upserts take
            other.execute("DELETE FROM pending")
            return len(rows)
        finally:
            other.close()

    def pending(self) -> list[Spooled]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, payload FROM pending ORDER BY seq"
            ).fetchall()
        return [Spooled(int(seq), str(kind), str(payload)) for seq, kind, payload in rows]

    def bury(self, entry: Spooled, error: str, at: datetime) -> int:
        """Move a refused entry from the journal to the dead letters."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM pending WHERE seq = ?", (entry.seq,))
            cursor = self._db.execute(
                "INSERT INTO dead (kind, payload, error, at) VALUES (?, ?, ?, ?)",
                (entry.kind, entry.payload, error, at.isoformat()),
            )
            return int(cursor.lastrowid or 0)

    def dead_letters(self) -> list[DeadLetter]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, payload, error, at FROM dead ORDER BY id"
            ).fetchall()
        return [
            DeadLetter(int(i), str(k), str(p), str(e), datetime.fromisoformat(str(a)))
            for i, k, p, e, a in rows
        ]

    def dead_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM dead").fetchone()[0])

    def drop_dead(self, letter_id: int) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM dead WHERE id = ?", (letter_id,))
