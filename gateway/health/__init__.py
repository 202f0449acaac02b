"""Provider health: state machines and the breaker (``state``), the probing monitor
(``monitor``), and verdicts shared by instances through Redis (``shared``, ``store``).

The gateway's own health endpoint is ``gateway.routes.health``.
"""
