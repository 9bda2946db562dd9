"""Dynamic micro-batching: concurrent requests share model calls.

Requests wait in a queue; the collector takes the oldest, waits up to `max_wait_s` after its
arrival for more (or until `max_batch_size` texts are there), and runs the batch on ONE worker
thread, because `Repairer` is not thread-safe. While the model runs, new requests pile up, so
the next batch is larger: batches grow with concurrency on their own. Requests with different
decoding options never share a model call.

Admission is bounded twice: by requests and by characters waiting or running (a few huge
requests fill the model as surely as many small ones). A request whose caller stopped waiting
(its deadline passed, or the client went away: the future is cancelled) or whose deadline has
passed is dropped when its batch is formed, before the model sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

Options = tuple[tuple[str, Any], ...]  # hashable decoding options, e.g. (("num_beams", 2),)
# Runs one model call in the worker thread: (texts, options) -> (results in order, extra)
RunBatch = Callable[[list[str], Mapping[str, Any]], tuple[list[Any], Any]]


class QueueFullError(RuntimeError):
    """More requests (or characters) are waiting than the service accepts."""


class DeadlineExceededError(RuntimeError):
    """The request's deadline passed before the model reached it."""


@dataclass
class _Job:
    texts: list[str]
    options: Options
    arrived: float
    deadline: float
    future: asyncio.Future = field(repr=False)
    queued: bool = True  # counted against the queue bounds until taken or given up

    @property
    def chars(self) -> int:
        return sum(map(len, self.texts))


class MicroBatcher:
    def __init__(
        self,
        run: RunBatch,
        *,
        enabled: bool = True,
        max_batch_size: int = 32,
        max_wait_s: float = 0.01,
        max_queue: int = 1024,
        max_queue_chars: int | None = None,
    ) -> None:
        self._run = run
        self.enabled = enabled
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.max_queue_chars = max_queue_chars
        self.expired = 0  # jobs dropped because their deadline passed in the queue
        self._pending: deque[_Job] = deque()
        # Jobs and characters waiting (not cancelled, not yet taken): what the bounds apply to.
        self._queued_jobs = 0
        self._queued_chars = 0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def queued(self) -> int:
        """Requests waiting for the model."""
        return self._queued_jobs

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textrepair-model")
        self._task = asyncio.create_task(self._collect(), name="textrepair-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for job in self._pending:
            if not job.future.done():
                job.future.set_exception(RuntimeError("the service is shutting down"))
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(
        self, texts: list[str], options: Mapping[str, Any], timeout: float | None = None
    ) -> tuple[list[Any], Any]:
        """Results for `texts` (in order) and the run's extra value (which model answered).

        Raises QueueFullError at once when the bounds are reached, DeadlineExceededError when
        the job waited past `timeout` seconds; cancelling the caller drops the job too.
        """
        if self._wakeup is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = now + timeout if timeout is not None else float("inf")
        job = _Job(list(texts), tuple(sorted(options.items())), now, deadline, loop.create_future())
        self._admit(job)
        self._pending.append(job)
        self._wakeup.set()
        return await job.future

    def _admit(self, job: _Job) -> None:
        if self._queued_jobs >= self.max_queue:
            raise QueueFullError(f"{self._queued_jobs} requests are already waiting")
        chars = self._queued_chars + job.chars
        if self.max_queue_chars is not None and chars > self.max_queue_chars:
            raise QueueFullError(f"{self._queued_chars} characters are already waiting")
        self._queued_jobs += 1
        self._queued_chars += job.chars
        # A cancelled job (deadline, client gone) stops counting at once, not when it is popped.
        job.future.add_done_callback(lambda _: self._unqueue(job))

    def _unqueue(self, job: _Job) -> None:
        if job.queued:
            job.queued = False
            self._queued_jobs -= 1
            self._queued_chars -= job.chars

    async def _collect(self) -> None:
        while True:
            await self._wait_for_work()
            for options, jobs in self._take_batch().items():
                await self._execute(options, jobs)

    async def _wait_for_work(self) -> None:
        assert self._wakeup is not None
        while not self._pending:
            self._wakeup.clear()
            await self._wakeup.wait()
        if not self.enabled:
            return
        loop = asyncio.get_running_loop()
        deadline = self._pending[0].arrived + self.max_wait_s
        while self._texts_waiting() < self.max_batch_size and loop.time() < deadline:
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), deadline - loop.time())

    def _texts_waiting(self) -> int:
        return sum(len(job.texts) for job in self._pending)

    def _take_batch(self) -> dict[Options, list[_Job]]:
        """The oldest requests that fit in one batch (at least one), grouped by options."""
        batch = [self._pending.popleft()]
        size = len(batch[0].texts)
        while (
            self.enabled
            and self._pending
            and size + len(self._pending[0].texts) <= self.max_batch_size
        ):
            job = self._pending.popleft()
            batch.append(job)
            size += len(job.texts)
        now = asyncio.get_running_loop().time()
        groups: dict[Options, list[_Job]] = {}
        for job in batch:
            self._unqueue(job)
            if job.future.done():  # the caller went away: do not spend the model on it
                continue
            if now >= job.deadline:
                self.expired += 1
                job.future.set_exception(DeadlineExceededError("the request waited too long"))
                continue
            groups.setdefault(job.options, []).append(job)
        return groups

    async def _execute(self, options: Options, jobs: list[_Job]) -> None:
        texts = [text for job in jobs for text in job.texts]
        loop = asyncio.get_running_loop()
        try:
            results, extra = await loop.run_in_executor(
                self._executor, self._run, texts, dict(options)
            )
        except Exception as error:
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(error)
            return
        start = 0
        for job in jobs:
            end = start + len(job.texts)
            if not job.future.done():
                job.future.set_result((results[start:end], extra))
            start = end
