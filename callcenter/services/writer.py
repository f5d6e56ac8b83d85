"""The engine's one writer: every record the engine persists goes through it, in order.

- Batches: what is queued goes to the database in one transaction, up to `batch_rows` records,
  gathered for at most `batch_seconds`.
- Transient failures (connection lost, database down, timeouts) are retried, in order.
- A record the database refuses is logged once and set aside as a dead letter (listed and
  replayed with `python -m callcenter dead-letters`); the writer goes on with the next one.
- Nothing lives only in memory: each batch is journalled to the local spool (fsynced) before the
  database is tried, and removed once written; a start-up replays what the spool still holds.
- Nothing waits on it without a deadline: `drained(timeout)` raises StorageBehind instead."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.errors import StorageBehind
from callcenter.storage.codec import decode, encode
from callcenter.storage.spool import Spool, Spooled
from callcenter.storage.writes import Sink

log = logging.getLogger(__name__)

# SQLSTATE classes worth retrying: connection exception, insufficient resources, operator
# intervention (shutdown, cannot connect now), transaction rollback (deadlock, serialization)
TRANSIENT_SQLSTATE_CLASSES = {"08", "53", "57", "40", "58"}


@dataclass
class _Entry:
    seq: int
    kind: str
    item: object
    since: float  # monotonic time of submission
    payload: str | None = None


@dataclass(frozen=True, slots=True)
class WriterStatus:
    pending: int
    lag_seconds: float
    written: int
    dead_letters: int
    failing: str | None  # why the database is not taking records right now


@dataclass(frozen=True, slots=True)
class DrainReport:
    written: int
    left: int
    seconds: float


def prometheus_lines(status: WriterStatus) -> list[str]:
    """The writer's gauges and counters in Prometheus text form."""
    failing = int(status.failing is not None)
    return [
        "# HELP callcenter_writer_lag_seconds Age of the oldest record not yet in the database.",
        "# TYPE callcenter_writer_lag_seconds gauge",
        f"callcenter_writer_lag_seconds {status.lag_seconds:.3f}",
        "# HELP callcenter_writer_pending Records queued for the database.",
        "# TYPE callcenter_writer_pending gauge",
        f"callcenter_writer_pending {status.pending}",
        "# HELP callcenter_writer_failing 1 while the database is not taking records.",
        "# TYPE callcenter_writer_failing gauge",
        f"callcenter_writer_failing {failing}",
        "# HELP callcenter_writer_dead_letters Records the database refused, set aside.",
        "# TYPE callcenter_writer_dead_letters gauge",
        f"callcenter_writer_dead_letters {status.dead_letters}",
        "# HELP callcenter_writer_written_total Records written since the engine started.",
        "# TYPE callcenter_writer_written_total counter",
        f"callcenter_writer_written_total {status.written}",
    ]


def _sqlstate(err: BaseException) -> str | None:
    seen: BaseException | None = err
    for _ in range(4):
        if seen is None:
            return None
        for attr in ("sqlstate", "pgcode"):
            code = getattr(seen, attr, None)
            if isinstance(code, str) and len(code) == 5:
                return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def is_transient(err: BaseException) -> bool:
    """Would the same write succeed later, unchanged? (Otherwise the database refuses it.)"""
    if isinstance(err, TimeoutError | OSError | sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
        return True
    state = _sqlstate(err)
    if state is not None:
        return state[:2] in TRANSIENT_SQLSTATE_CLASSES
    return isinstance(err, sa_exc.OperationalError | sa_exc.InterfaceError)


def _describe(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"{type(err).__name__}: {text}"[:500]


class Writer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sinks: Mapping[str, Sink],
        spool: Spool,
        *,
        batch_rows: int = 500,
        batch_seconds: float = 0.02,
        retry_seconds: float = 1.0,
        write_timeout: float = 10.0,
        wait_seconds: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._sinks = sinks
        self._spool = spool
        self._batch_rows = batch_rows
        self._batch_seconds = batch_seconds
        self._retry = retry_seconds
        self._write_timeout = write_timeout
        self.wait_seconds = wait_seconds
        self._entries: deque[_Entry] = deque()
        self._seq = 0
        self._journalled = 0  # highest seq in the spool
        self._wake = asyncio.Event()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._journaller: asyncio.Task[None] | None = None
        self._journal_lock = asyncio.Lock()
        self._fresh = asyncio.Event()
        self._failing: str | None = None
        self._stopping = False
        self._journal_failing = False
        self._in_write = False
        self.written = 0
        self.dead_letters = 0
        self.replayed = 0

    # ---- the producers' side: never blocks ----
    def submit(self, kind: str, item: object) -> None:
        if kind not in self._sinks:
            raise ValueError(f"no sink for {kind!r}")
        self._seq += 1
        self._entries.append(_Entry(self._seq, kind, item, time.monotonic()))
        self._wake.set()
        self._fresh.set()

    def submit_many(self, kind: str, items: Iterable[object]) -> None:
        for item in items:
            self.submit(kind, item)

    async def drained(self, timeout: float | None = None) -> None:
        """Wait until everything submitted so far is written (or set aside); StorageBehind
        when that takes longer than `timeout` (default: the writer's wait_seconds)."""
        target = self._seq
        if self._done_upto() >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        limit = self.wait_seconds if timeout is None else timeout
        try:
            await asyncio.wait_for(asyncio.shield(future), limit)
        except TimeoutError:
            reason = self._failing or "the writer is behind"
            raise StorageBehind(
                f"{len(self._entries)} record(s) not yet in the database after {limit:g} s "
                f"({reason})"
            ) from None

    def status(self) -> WriterStatus:
        lag = time.monotonic() - self._entries[0].since if self._entries else 0.0
        return WriterStatus(
            pending=len(self._entries),
            lag_seconds=round(lag, 3),
            written=self.written,
            dead_letters=self.dead_letters,
            failing=self._failing,
        )

    # ---- lifecycle ----
    async def start(self, peers: Sequence[Path] = ()) -> None:
        """Take back what the spool holds from before the last stop (and what the journals of
        `peers`, engines that led before this one, still hold), then start writing."""
        for peer in peers:
            taken = await asyncio.to_thread(self._spool.take_over, peer)
            if taken:
                log.warning("writer: took %d record(s) from the journal %s", taken, peer)
        self.dead_letters = self._spool.dead_count()
        now = time.monotonic()
        for spooled in self._spool.pending():
            try:
                item = decode(self._sinks[spooled.kind].type, json.loads(spooled.payload))
            except (KeyError, TypeError, ValueError) as err:
                self._bury(spooled, f"cannot read journalled record: {_describe(err)}")
                continue
            self._entries.append(_Entry(spooled.seq, spooled.kind, item, now, spooled.payload))
            self._seq = max(self._seq, spooled.seq)
        self._journalled = self._seq
        self.replayed = len(self._entries)
        if self._entries:
            log.warning(
                "writer: %d record(s) journalled before the last stop are written again",
                len(self._entries),
            )
        self._task = asyncio.create_task(self._run(), name="writer")
        self._journaller = asyncio.create_task(self._journal_loop(), name="writer-journal")

    async def stop(self, deadline: float) -> DrainReport:
        """Write what is queued within `deadline` seconds; journal the rest for the next start."""
        started, before = time.monotonic(), self.written
        with contextlib.suppress(StorageBehind):
            await self.drained(deadline)
        self._stopping = True
        # a transaction in flight finishes: it is then either committed and forgotten by the
        # spool, or not committed and still in it (never written twice at the next start)
        for _ in range(int(self._write_timeout / 0.05) + 1):
            if not self._in_write:
                break
            await asyncio.sleep(0.05)
        for task in (self._task, self._journaller):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._journaller = None
        self._journal()
        report = DrainReport(
            written=self.written - before,
            left=len(self._entries),
            seconds=round(time.monotonic() - started, 3),
        )
        log.info(
            "writer stopped: %d record(s) written while stopping in %.2f s; %d left in the "
            "journal %s for the next start",
            report.written,
            report.seconds,
            report.left,
            self._spool.path,
        )
        self._spool.close()
        return report

    # ---- the one consumer ----
    def _done_upto(self) -> int:
        return self._entries[0].seq - 1 if self._entries else self._seq

    def _progress(self) -> None:
        done = self._done_upto()
        still = []
        for target, future in self._waiters:
            if target <= done:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((target, future))
        self._waiters = still

    def _unjournalled(self) -> list[Spooled]:
        fresh: list[_Entry] = []
        for entry in reversed(self._entries):
            if entry.seq <= self._journalled:
                break
            fresh.append(entry)
        fresh.reverse()
        rows = []
        for entry in fresh:
            if entry.payload is None:
                entry.payload = json.dumps(encode(entry.item), ensure_ascii=False)
            rows.append(Spooled(entry.seq, entry.kind, entry.payload))
        return rows

    async def _journal_async(self) -> None:
        async with self._journal_lock:
            rows = self._unjournalled()
            if not rows:
                return
            try:
                await asyncio.to_thread(self._spool.append, rows)
            except (OSError, sqlite3.Error) as err:
                # the database may still take them; a crash now would lose them, so say so
                if not self._journal_failing:
                    log.error("writer: cannot journal to %s (%s)", self._spool.path, err)
                self._journal_failing = True
                return
            if self._journal_failing:
                log.warning("writer: journalling to %s again", self._spool.path)
                self._journal_failing = False
            self._journalled = max(self._journalled, rows[-1].seq)

    async def _journal_loop(self) -> None:
        """Journal what arrives every batch window, whatever the database is doing (a write
        may wait on a dead connection for its whole timeout)."""
        while True:
            await self._fresh.wait()
            self._fresh.clear()
            await asyncio.sleep(max(self._batch_seconds, 0.01))
            await self._journal_async()

    def _journal(self) -> None:
        rows = self._unjournalled()
        if rows:
            self._spool.append(rows)
            self._journalled = max(self._journalled, rows[-1].seq)

    async def _run(self) -> None:
        while not self._stopping:
            if not self._entries:
                self._wake.clear()
                await self._wake.wait()
            if len(self._entries) < self._batch_rows:
                await asyncio.sleep(self._batch_seconds)
            await self._journal_async()
            batch = list(itertools.islice(self._entries, self._batch_rows))
            self._in_write = True
            try:
                done, transient = await self._write(batch)
                if done:
                    finished = [self._entries.popleft().seq for _ in range(done)]
                    await asyncio.to_thread(self._spool.written, finished)
            finally:
                self._in_write = False
            self._progress()
            if transient is not None:
                if self._failing is None:
                    log.error("writer: cannot write (%s); retrying in order", transient)
                self._failing = transient
                await asyncio.sleep(self._retry)
            elif self._failing is not None:
                log.warning("writer: the database takes records again")
                self._failing = None

    async def _write(self, batch: Sequence[_Entry]) -> tuple[int, str | None]:
        """(how many from the front are done, the transient failure that stopped it if any)."""
        try:
            await self._transaction(batch)
            self.written += len(batch)
            return len(batch), None
        except Exception as err:
            if is_transient(err):
                return 0, _describe(err)
            if len(batch) > 1:
                log.warning(
                    "writer: a batch of %d was refused (%s); writing it one by one",
                    len(batch),
                    _describe(err),
                )
        # someone in the batch is refused: one by one, to write the others and set it aside
        done = 0
        for entry in batch:
            try:
                await self._transaction([entry])
                self.written += 1
            except Exception as err:
                if is_transient(err):
                    return done, _describe(err)
                self._bury(Spooled(entry.seq, entry.kind, entry.payload or ""), _describe(err))
            done += 1
        return done, None

    async def _transaction(self, entries: Sequence[_Entry]) -> None:
        """One transaction; each kind's records in one go, kinds in the sinks' order (what
        others refer to first), each kind's records in the order they came."""
        by_kind: dict[str, list[object]] = {}
        for entry in entries:
            by_kind.setdefault(entry.kind, []).append(entry.item)
        async with asyncio.timeout(self._write_timeout), self._sessions.begin() as session:
            for kind, sink in self._sinks.items():
                if kind in by_kind:
                    await sink.write(session, by_kind[kind])

    def _bury(self, entry: Spooled, error: str) -> None:
        payload = entry.payload or "null"
        letter = self._spool.bury(Spooled(entry.seq, entry.kind, payload), error, _utcnow())
        self.dead_letters += 1
        log.error(
            "writer: the database refused a record (%s); set aside as dead letter %d (%s)",
            entry.kind,
            letter,
            error,
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def replay_dead_letters(
    sessions: async_sessionmaker[AsyncSession],
    sinks: Mapping[str, Sink],
    spool: Spool,
    ids: Iterable[int] | None = None,
) -> list[tuple[int, str | None]]:
    """Write dead letters again (all, or those named), each in a transaction of its own; a
    written one leaves the store. Returns (id, error or None) per letter tried."""
    wanted = set(ids) if ids is not None else None
    results: list[tuple[int, str | None]] = []
    for letter in spool.dead_letters():
        if wanted is not None and letter.id not in wanted:
            continue
        try:
            sink = sinks[letter.kind]
            item = decode(sink.type, json.loads(letter.payload))
            async with sessions.begin() as session:
                await sink.write(session, [item])
        except Exception as err:
            results.append((letter.id, _describe(err)))
            continue
        spool.drop_dead(letter.id)
        results.append((letter.id, None))
    return results
