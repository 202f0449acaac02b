"""Send a request to the first candidate that answers, and relay its answer.

Fallback: a candidate that cannot be reached, times out, or answers 429 or 5xx
before anything reached the client is followed by the next one (up to
``routing.max_attempts``). Other 4xx answers go back to the client in OpenAI's
error shape with the upstream's message and status. A stream may fall back
until its first data chunk, even after a keep-alive comment committed the SSE
response; from then on a failure ends it with one final ``data: {"error": ...}``
event (never a hang, never half an event).

Routes that speak another API to their clients (``/v1/responses``,
``/v1/messages``) use ``complete_as`` and ``stream_as`` with a ``ClientFormat``
(gateway/client_format.py): same pipeline, their own answers, events and error
events, and a native pass-through for providers that speak their API.

One module per job:

- ``complete``: non-streaming calls, the candidates in order until one answers.
- ``stream``: streaming calls, the candidates in order until one streams.
- ``client_stream``: the client side of a stream (SSE headers once, keep-alive comments).
- ``reading``: the upstream side of a stream (its chunks or native events).
- ``relay``: writing a stream to the client, and ending a broken one with an error event.
- ``answers``: an upstream's answer in the gateway's terms (headers, errors, usage).
- ``attempts``: per-request bookkeeping of attempts (metrics, passive health, facts).
- ``drain``: calls known to the shutdown drain, which may cut them short.
"""
