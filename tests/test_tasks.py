"""cancel_and_wait: every task given is cancelled and has ended when it returns."""

from __future__ import annotations

import asyncio

from gateway.tasks import cancel_and_wait


async def test_cancels_every_task_and_waits_for_each() -> None:
    ended: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits
            ended.append(name)

    first = asyncio.create_task(forever("first"))
    second = asyncio.create_task(forever("second"))
    await asyncio.sleep(0)
    await cancel_and_wait(first, None, second)
    assert first.cancelled() and second.cancelled()
    assert ended == ["first", "second"]
