"""The middleware chain: one frame, its steps in order, in one place.

1. request id (request_id), first: it must exist before anything logs; the
   application's secrets are put in force for the request (security.redaction).
2. timing, with error mapping inside it (errors.error_for), so the access line
   shows the status the client got.
3. admission: route lookup -> body size (body_limit) -> auth -> rate limit ->
   budget (gateway.ledger, metered routes only).
4. the handler.
5. the access line and request metrics (access_log), when the answer is known;
   for metered routes (group ``chat``) the ledger entry (gateway.ledger).

Five steps share one middleware frame because every coroutine frame costs on
every request; the steps keep their modules and their order. Security headers
and the echoed X-Request-ID are stamped by a response stamp (see
gateway.stamps and security_headers) so streams get them too.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.endpoints import route_info
from gateway.ledger.service import Ledger
from gateway.logs import AccessLog, request_id_var
from gateway.middleware.access_log import CLIENT_CLOSED, record_request
from gateway.middleware.auth import auth_check
from gateway.middleware.body_limit import body_limit_check
from gateway.middleware.errors import error_for
from gateway.middleware.rate_limit import rate_limit_check
from gateway.middleware.request_id import RequestIds
from gateway.security.redaction import IN_FORCE, SecretRegistry
from gateway.settings import Settings
from gateway.state import REQUEST_ID


def gateway_middleware(
    settings: Settings, secrets: SecretRegistry, access_log: AccessLog, ledger: Ledger | None
) -> Middleware:
    """The whole chain as one middleware (see the module docstring for the order).

    ``secrets`` and ``access_log`` are the application's own (see create_app);
    ``ledger``: None when ``usage.enabled`` is false (then metered routes skip it).
    """
    ids = RequestIds(secrets)
    body_limit = body_limit_check(settings.body_limits)
    auth = auth_check(settings)
    rate_limit = rate_limit_check()

    @web.middleware
    async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
        if IN_FORCE.get() is not secrets:  # usually inherited from the app's start-up
            IN_FORCE.set(secrets)  # for this request's task only: no reset needed
        request_id = ids.accepted(request.headers.get("X-Request-ID"))
        request[REQUEST_ID] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response: web.StreamResponse | None = None
        info = None
        principal = None
        admitted = request
        try:
            try:
                info = route_info(request)
                admitted = body_limit(request, info)
                principal = await auth(admitted, info)
                await rate_limit(admitted, info)
                if (
                    ledger is not None
                    and principal is not None
                    and principal.budget is not None
                    and info is not None
                    and info.group == "chat"
                ):
                    await ledger.check_budget(principal, principal.budget)
                response = await handler(admitted)
            except Exception as exc:
                response = error_for(request, exc)
                if response is None:
                    raise
            status = response.status
            return response
        except web.HTTPException as exc:  # a redirect passes through
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED  # the client went away before the answer was complete
            raise
        finally:
            elapsed = time.perf_counter() - started
            request_id_var.reset(token)  # before recording: the line carries the id itself
            record_request(request, status, elapsed, response, request_id, access_log)
            if (
                ledger is not None
                and principal is not None
                and info is not None
                and info.group == "chat"
            ):
                ledger.record(admitted, principal, info.path, status, elapsed, request_id)

    return gateway


def build_chain(
    settings: Settings, secrets: SecretRegistry, access_log: AccessLog, ledger: Ledger | None
) -> list[Middleware]:
    return [gateway_middleware(settings, secrets, access_log, ledger)]
