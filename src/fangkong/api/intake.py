"""The swab intake: group commit for `POST /api/v1/nat/samples`.

Requests put their swab on a queue and wait; one thread takes whatever has queued (up to
`max_batch`), runs `fangkong.nat.intake.register_batch` in one transaction, commits, and only
then answers each request — so every acknowledged swab is on disk, and a batch of hundreds
costs one commit. If a batch fails as a whole (a database error), its swabs are retried one by
one, so one bad swab never takes others down with it. Like the event worker, this runner owns
its unit of work.

On PostgreSQL two writers take batches from the queue, so one batch is checked while the other
waits for the database; tubes are locked in id order (`SELECT … FOR UPDATE`), so two batches
filling the same tube take turns and never deadlock. SQLite has one writer at a time anyway.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from fangkong.errors import FangkongError
from fangkong.nat.intake import Outcome, Swab, register_batch

log = logging.getLogger(__name__)


@dataclass
class _Item:
    swab: Swab
    future: Future[Outcome]


class Intake:
    """Group commit for swab registration (see the module docstring)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        max_batch: int = 500,
        linger_s: float = 0.004,
        writers: int = 1,
    ) -> None:
        self.factory = factory
        self.max_batch = max_batch
        self.writers = max(1, writers)
        # After the first swab, wait this long for others: a batch's fixed cost (a few queries
        # and the commit) is then shared; the answer waits a few milliseconds more.
        self.linger_s = linger_s
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.batches = 0
        self.swabs = 0

    def start(self) -> None:
        if len(self._threads) == self.writers and all(t.is_alive() for t in self._threads):
            return
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self.writers:
                t = threading.Thread(
                    target=self._run, name=f"fangkong-sample-intake-{len(self._threads)}", daemon=True
                )
                t.start()
                self._threads.append(t)

    def stop(self) -> None:
        alive = [t for t in self._threads if t.is_alive()]
        for _ in alive:
            self._queue.put(None)
        for t in alive:
            t.join(timeout=10)

    def submit(self, swab: Swab) -> Future[Outcome]:
        self.start()
        fut: Future[Outcome] = Future()
        self._queue.put(_Item(swab, fut))
        return fut

    async def register(self, swab: Swab) -> Outcome:
        return await asyncio.wrap_future(self.submit(swab))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.linger_s
            while len(batch) < self.max_batch:
                wait = deadline - time.monotonic()
                try:
                    nxt = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._process(batch)
                    return
                batch.append(nxt)
            self._process(batch)

    def _process(self, batch: list[_Item]) -> None:
        try:
            outcomes = self._commit([b.swab for b in batch])
        except Exception:  # a database error: retry one by one so good swabs still land
            log.exception("sample intake: batch of %d failed; retrying one by one", len(batch))
            outcomes = []
            for item in batch:
                try:
                    outcomes += self._commit([item.swab])
                except Exception as exc:
                    outcomes.append(
                        FangkongError(f"could not store the swab: {type(exc).__name__}", status=503)
                    )
        with self._lock:
            self.batches += 1
            self.swabs += len(batch)
        for item, outcome in zip(batch, outcomes, strict=True):
            if not item.future.cancelled():
                item.future.set_result(outcome)

    def _commit(self, swabs: list[Swab]) -> list[Outcome]:
        with self.factory() as session:
            outcomes = register_batch(session, swabs)
            session.commit()
            return outcomes
