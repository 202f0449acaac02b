"""``python -m benchmarks.aiohttp_gateway serve ...``: the gateway with aiohttp's client below.

The same command line as ``gateway``; only the upstream boundary's client differs
(benchmarks/aiohttp_client.py), so ``make bench`` can put both side by side.
"""

from __future__ import annotations

import sys

from benchmarks.aiohttp_client import AiohttpClient
from gateway.cli import main
from gateway.upstream import Upstream

_start = Upstream.start


async def _start_with_aiohttp(self: Upstream) -> None:
    self.client_factory = AiohttpClient
    await _start(self)


if __name__ == "__main__":
    Upstream.start = _start_with_aiohttp  # type: ignore[method-assign]
    sys.exit(main())
