"""Anthropic's Messages API in front of every provider.

``request`` turns a Messages body into a chat body, ``answer`` a chat.completion
into a Message, ``events`` a stream of chat.completion.chunk objects into
Anthropic's event stream, ``tokens`` estimates ``count_tokens`` for providers
that cannot count. Anthropic providers get the client's body as it is.
"""
