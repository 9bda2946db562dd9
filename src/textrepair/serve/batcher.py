"""Dynamic micro-batching: concurrent requests share model calls.

Requests wait in a queue; the collector takes the oldest, waits up to `max_wait_s` after its
arrival for more (or until `max_batch_size` texts are there), and runs the batch on ONE worker
thread, because `Repairer` is not thread-safe. While the model runs, new requests pile up, so
the next batch is larger: batches grow with concurrency on their own. Requests with different
decoding options never share a model call.
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
    """More requests are waiting than the service accepts."""


@dataclass
class _Job:
    texts: list[str]
    options: Options
    arrived: float
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    def __init__(
        self,
        run: RunBatch,
        *,
        enabled: bool = True,
        max_batch_size: int = 32,
        max_wait_s: float = 0.01,
        max_queue: int = 1024,
    ) -> None:
        self._run = run
        self.enabled = enabled
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self._pending: deque[_Job] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def queued(self) -> int:
        return len(self._pending)

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

    async def submit(self, texts: list[str], options: Mapping[str, Any]) -> tuple[list[Any], Any]:
        """Results for `texts` (in order) and the run's extra value (which model answered)."""
        if self._wakeup is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        if len(self._pending) >= self.max_queue:
            raise QueueFullError(f"{len(self._pending)} requests are already waiting")
        loop = asyncio.get_running_loop()
        job = _Job(list(texts), tuple(sorted(options.items())), loop.time(), loop.create_future())
        self._pending.append(job)
        self._wakeup.set()
        return await job.future

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
        groups: dict[Options, list[_Job]] = {}
        for job in batch:
            if not job.future.done():  # the client went away: do not spend the model on it
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
