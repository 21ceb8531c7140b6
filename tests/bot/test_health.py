import asyncio
import urllib.error
import urllib.request

from bot import health as h
from bot.metrics import REQUESTS


def fetch(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_livez_readyz_metrics():
    async def scenario():
        state = h.Health()
        server = await h.serve(state, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        assert "127.0.0.1" == server.sockets[0].getsockname()[0]
        get = lambda path: asyncio.to_thread(fetch, port, path)  # noqa: E731
        try:
            assert (200, "ok\n") == await get("/livez")
            assert 503 == (await get("/readyz"))[0]  # no checks registered yet: starting
            model = [False]
            state.checks["model"] = lambda: model[0]
            state.checks["database"] = lambda: True
            assert (503, "model: not ready\ndatabase: ok\n") == await get("/readyz")
            model[0] = True
            assert (200, "model: ok\ndatabase: ok\n") == await get("/readyz")
            state.draining = True
            assert (503, "draining: shutting down\nmodel: ok\ndatabase: ok\n") == await get("/readyz")
            REQUESTS.labels("telegram", "ok").inc()
            status, body = await get("/metrics")
            assert 200 == status
            assert 'emotion_bot_requests_total{outcome="ok",platform="telegram"}' in body
            assert 404 == (await get("/nope"))[0]
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())
