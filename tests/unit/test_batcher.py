"""MicroBatcher on its own: a plain function stands in for the model (no torch, no HTTP)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from textrepair.serve.batcher import MicroBatcher, QueueFullError


class Upper:
    """Upper-cases texts, records each call and the thread it ran on."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[list[str], dict]] = []
        self.threads: set[int] = set()
        self.fail_on = fail_on

    def __call__(self, texts, options):
        self.calls.append((list(texts), dict(options)))
        self.threads.add(threading.get_ident())
        if self.fail_on in texts:
            raise ValueError(f"cannot repair {self.fail_on}")
        return [t.upper() for t in texts], "model-1"


async def _run(batcher: MicroBatcher, jobs):
    await batcher.start()
    try:
        return await asyncio.gather(
            *(batcher.submit(texts, options) for texts, options in jobs), return_exceptions=True
        )
    finally:
        await batcher.stop()


def test_concurrent_requests_are_batched_answered_in_order_on_one_thread():
    model = Upper()
    batcher = MicroBatcher(model, max_batch_size=8, max_wait_s=0.05)
    jobs = [([f"a{i}", f"b{i}"], {}) for i in range(10)]
    answers = asyncio.run(_run(batcher, jobs))
    assert answers == [([f"A{i}", f"B{i}"], "model-1") for i in range(10)]
    sizes = [len(texts) for texts, _ in model.calls]
    assert sum(sizes) == 20 and max(sizes) <= 8 and len(model.calls) < 10
    assert len(model.threads) == 1  # the model never runs on two threads


def test_different_options_never_share_a_call():
    model = Upper()
    jobs = [(["x"], {}), (["y"], {"num_beams": 2}), (["z"], {}), (["w"], {"num_beams": 2})]
    answers = asyncio.run(_run(MicroBatcher(model, max_wait_s=0.05), jobs))
    assert [texts for texts, _ in answers] == [["X"], ["Y"], ["Z"], ["W"]]
    assert sorted(model.calls) == [(["x", "z"], {}), (["y", "w"], {"num_beams": 2})]


def test_without_batching_each_request_is_its_own_call():
    model = Upper()
    jobs = [([str(i)], {}) for i in range(5)]
    asyncio.run(_run(MicroBatcher(model, enabled=False, max_wait_s=0.05), jobs))
    assert [texts for texts, _ in model.calls] == [[str(i)] for i in range(5)]


def test_a_failing_call_fails_its_requests_only():
    model = Upper(fail_on="bad")
    jobs = [(["ok"], {}), (["bad"], {"num_beams": 2}), (["fine"], {})]
    answers = asyncio.run(_run(MicroBatcher(model, max_wait_s=0.05), jobs))
    assert answers[0] == (["OK"], "model-1") and answers[2] == (["FINE"], "model-1")
    assert isinstance(answers[1], ValueError)


def test_a_full_queue_is_refused_at_once():
    async def scenario():
        started = threading.Event()
        release = threading.Event()

        def slow(texts, options):
            started.set()
            release.wait(10)
            return texts, None

        batcher = MicroBatcher(slow, max_queue=1, max_wait_s=0)
        await batcher.start()
        first = asyncio.create_task(batcher.submit(["a"], {}))
        await asyncio.to_thread(started.wait, 10)  # the model is busy with the first request
        second = asyncio.create_task(batcher.submit(["b"], {}))  # waits in the queue
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFullError):
            await batcher.submit(["c"], {})
        release.set()
        assert await first == (["a"], None) and await second == (["b"], None)
        await batcher.stop()

    asyncio.run(scenario())
