"""What several gateway instances keep in Redis to act as one: the worker's one client
(``client``), whether Redis hangs (``link``) and a single-flight cache (``cache``).

The Redis-backed limiter, health verdicts, ledger and Responses store use them.
"""
