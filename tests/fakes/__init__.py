"""Fake upstreams: real aiohttp servers speaking each provider's wire format.

``FakeOpenAI`` (openai_upstream), ``FakeAnthropic`` (anthropic_upstream) and
``FakeGemini`` (gemini_upstream) share ``base.FakeUpstream``: ``async with``
starts one on 127.0.0.1 with a free port; ``.target()`` gives a gateway Target
for it; ``.reply`` scripts the answer (text, reasoning, tool calls, usage);
``.fault`` injects 4xx/5xx answers, malformed JSON, a reset mid-stream, an
in-stream error event, a slow first byte or slow chunks; ``.requests`` records
what arrived (headers included); ``.disconnected`` is set when a client drops a
stream. tests/adapters/test_over_http.py shows each of these in use.
"""
