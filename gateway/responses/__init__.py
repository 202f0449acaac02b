"""OpenAI's Responses API (``/v1/responses``) in front of every provider.

Providers whose template names a ``responses`` path get the client's body as
is; every other provider gets it translated to a chat body (request.py), and
the answer or stream is built back into Response objects and typed events
(objects.py, events.py). format.py ties both into the proxy's ClientFormat
hook; store.py keeps stored responses for ``GET``/``previous_response_id``.
"""
