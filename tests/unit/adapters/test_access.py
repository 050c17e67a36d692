"""The bearer-token middleware on an aiohttp app shaped like the worker's."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from stream.adapters.access import OPEN_PATHS, bearer_headers, token_middleware

TOKEN = "s3cret-T0ken"
PROTECTED = ["/sla/reps", "/sla/reps/local", "/sla/leads/L1", "/wallboard", "/router/", "/nowhere"]


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path})


@pytest.fixture
async def client():
    app = web.Application(middlewares=[token_middleware(TOKEN)])
    for path in ("/healthz", "/readyz", "/metrics", "/sla/reps", "/sla/reps/local", "/sla/leads/{lead_id}",
                 "/wallboard", "/router/"):
        app.router.add_get(path, ok)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.mark.parametrize("path", sorted(OPEN_PATHS))
async def test_probes_and_metrics_need_no_token(client, path):
    assert (await client.get(path)).status == 200


@pytest.mark.parametrize("path", PROTECTED)
async def test_every_other_path_needs_the_token(client, path):
    response = await client.get(path)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "SLA_HTTP_TOKEN" in (await response.json())["error"]


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"bearer {TOKEN}", TOKEN, f"Basic {TOKEN}", "Bearer ", "Bearér x"],
)
async def test_a_wrong_token_is_refused(client, header):
    assert (await client.get("/sla/reps", headers={"Authorization": header})).status == 401


@pytest.mark.parametrize("path", PROTECTED[:-1])
async def test_the_token_opens_them(client, path):
    assert (await client.get(path, headers=bearer_headers(TOKEN))).status == 200


@pytest.mark.parametrize("path", ["/metrics/", "/healthz/../sla/reps", "/%73la/reps", "/metrics?x=/sla/reps"])
async def test_spellings_of_a_path_do_not_open_a_protected_page(client, path):
    response = await client.get(path)
    if response.status == 200:
        # Only an open page may answer without the token.
        assert (await response.json())["path"] in OPEN_PATHS
    else:
        assert response.status in (401, 404)


def test_no_token_no_header():
    assert bearer_headers(None) == {} and bearer_headers("") == {}
    assert bearer_headers("abc") == {"Authorization": "Bearer abc"}
