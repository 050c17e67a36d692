"""HTTP access control: with ``SLA_HTTP_TOKEN`` set, every path but the
probes' and Prometheus' needs ``Authorization: Bearer <token>``.

The check is an aiohttp middleware on the worker's web app, so it covers
every route, Faust's own (``/router``) included, and runs before
``table_route`` forwards a request to another worker (the forwarded request
carries the caller's header, so the owner checks the same token).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

# Probes (kubelet, compose) and Prometheus carry no token; these expose no lead data.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_headers(token: str | None) -> dict[str, str]:
    """What a worker sends to another one (and a command to a worker)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def _route_path(request: web.Request) -> str | None:
    """The path of the route that will answer: decided on the router's match,
    not on the raw path, so no spelling of a URL reaches a protected page as
    an open one."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def token_middleware(token: str):
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _route_path(request) not in OPEN_PATHS:
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            # Constant time: how much of a guess is right must not show in the timing.
            if not hmac.compare_digest(given, expected):
                return web.json_response(
                    {"error": "unauthorized: send Authorization: Bearer <SLA_HTTP_TOKEN>"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="smarketing-sla"'},
                )
        return await handler(request)

    return require_token


def install(app, token: str | None) -> None:
    """Protect ``app``'s web server with ``token`` (nothing when None).
    Must run before the server starts: aiohttp freezes its middlewares then."""
    if token:
        app.web.web_app.middlewares.append(token_middleware(token))
