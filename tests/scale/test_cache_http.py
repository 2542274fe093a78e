"""The FastAPI response cache: ETag, 304, Cache-Control, keys, what is never cached."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from _cache_support import (  # type: ignore[import-not-found]
    forget_namespaces,
    namespace,
)
from fastapi import APIRouter, FastAPI, Header, Response
from pydantic import BaseModel
from redis.asyncio import Redis

from shipshape.scale.cache import CachedRoute, TieredCache, cache_response, response_key


@pytest.fixture(autouse=True)
def _forget_test_keys() -> Iterator[None]:
    yield
    forget_namespaces()


class Item(BaseModel):
    id: int
    name: str


class PublicItem(BaseModel):
    id: int


def make_app(cache: TieredCache) -> tuple[FastAPI, dict[str, int]]:
    calls: dict[str, int] = {}
    router = APIRouter(route_class=CachedRoute)

    def count(name: str) -> None:
        calls[name] = calls.get(name, 0) + 1

    @router.get("/items/{item_id}")
    @cache_response(cache, max_age=60)
    async def get_item(item_id: int, q: str = "") -> Item:
        count("item")
        return Item(id=item_id, name=f"item {item_id}{q}")

    @router.get("/public/{item_id}", response_model=PublicItem)
    @cache_response(cache, max_age=30, private=True)
    def get_public(item_id: int) -> Any:
        count("public")
        return {"id": item_id, "secret": "never sent"}

    @router.get("/greeting")
    @cache_response(cache, max_age=10, vary=["Accept-Language"])
    async def greeting(accept_language: str = Header("en")) -> dict[str, str]:
        count("greeting")
        return {"text": "bonjour" if accept_language.startswith("fr") else "hello"}

    @router.get("/session")
    @cache_response(cache, max_age=10)
    async def session(response: Response) -> dict[str, bool]:
        count("session")
        response.set_cookie("sid", "abc")
        return {"ok": True}

    @router.get("/missing")
    @cache_response(cache, max_age=10)
    async def missing(response: Response) -> dict[str, str]:
        count("missing")
        response.status_code = 404
        return {"detail": "nope"}

    @router.get("/slow/{item_id}")
    @cache_response(cache, max_age=60)
    async def slow(item_id: int) -> dict[str, int]:
        count("slow")
        await asyncio.sleep(0.05)
        return {"id": item_id}

    @router.get("/slow-session")
    @cache_response(cache, max_age=60)
    async def slow_session(response: Response) -> dict[str, int]:
        count("slow-session")
        number = calls["slow-session"]
        await asyncio.sleep(0.05)
        response.set_cookie("sid", str(number))
        return {"n": number}

    @router.get("/revalidate-only")
    @cache_response(cache, max_age=0)
    async def revalidate_only() -> dict[str, bool]:
        count("revalidate-only")
        return {"fresh": True}

    @router.post("/items")
    @cache_response(cache, max_age=10)
    async def create() -> dict[str, bool]:
        count("create")
        return {"created": True}

    app = FastAPI()
    app.include_router(router)
    return app, calls


def serve(
    make_cache: Callable[[], TieredCache],
    scenario: Callable[[httpx.AsyncClient, dict[str, int]], Awaitable[None]],
) -> None:
    async def main() -> None:
        cache = make_cache()
        app, calls = make_app(cache)
        transport = httpx.ASGITransport(app=app)
        async with cache, httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await scenario(client, calls)

    asyncio.run(main())


def memory_cache() -> TieredCache:
    return TieredCache(None, namespace=namespace("test:http"))


def test_second_request_is_served_from_cache_with_etag_and_cache_control() -> None:
    async def scenario(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        first = await client.get("/items/1")
        second = await client.get("/items/1")
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json() == {"id": 1, "name": "item 1"}
        assert first.headers["etag"] == second.headers["etag"]
        assert first.headers["etag"].startswith('"')
        assert second.headers["cache-control"] == "public, max-age=60"
        assert second.headers["content-type"] == "application/json"
        assert second.headers["content-length"] == str(len(second.content))
        assert calls == {"item": 1}

    serve(memory_cache, scenario)


def test_if_none_match_gets_304_without_body() -> None:
    async def scenario(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        etag = (await client.get("/items/2")).headers["etag"]
        for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            revalidated = await client.get("/items/2", headers={"If-None-Match": header})
            assert revalidated.status_code == 304
            assert revalidated.content == b""
            assert revalidated.headers["etag"] == etag
            assert revalidated.headers["cache-control"] == "public, max-age=60"
        changed = await client.get("/items/2", headers={"If-None-Match": '"stale"'})
        assert changed.status_code == 200
        assert calls == {"item": 1}

    serve(memory_cache, scenario)


def test_first_response_already_answers_if_none_match() -> None:
    async def scenario(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        etag = (await client.get("/items/3")).headers["etag"]
        await client.get("/items/3", headers={"Cache-Control": "no-cache"})
        fresh = await client.get(
            "/items/3", headers={"If-None-Match": etag, "Cache-Control": "no-cache"}
        )
        assert fresh.status_code == 304
        assert calls == {"item": 3}

    serve(memory_cache, scenario)


def test_key_covers_path_and_query_in_any_order() -> None:
    async def scenario(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        assert (await client.get("/items/4?q=a&z=1")).json()["name"] == "item 4a"
        assert (await client.get("/items/4?z=1&q=a")).json()["name"] == "item 4a"
        assert (await client.get("/items/4?q=b")).json()["name"] == "item 4b"
        assert (await client.get("/items/5?q=a")).json()["name"] == "item 5a"
        assert calls == {"item": 3}

    serve(memory_cache, scenario)
    assert response_key("get", "/items/4", "z=1&q=a&q=0") == "GET /items/4?q=a&q=0&z=1"
    assert response_key("GET", "/", "", {"Accept-Language": "fr"}) == "GET /|accept-language=fr"


def test_vary_headers_split_entries() -> None:
    async def scenario(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        english = await client.get("/greeting", headers={"Accept-Language": "en"})
        french = await client.get("/greeting", headers={"Accept-Language": "fr"})
        again = await client.get("/greeting", headers={"Accept-Language": "fr"})
        assert english.json() == {"text": "hello"}
        assert french.json() == again.json() == {"text": "bonjour"}
        assert again.headers["vary"] == "accept-language"
        assert calls == {"greeting": 2}

    serve(memory_cache, scenario)


def test_response_model_filtering_is_what_gets_cached() -> None:
    async def scenario(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        for _ in range(2):
            response = await client.get("/public/9")
            assert response.json() == {"id": 9}
            assert response.headers["cache-control"] == "private, max-age=30"
        assert calls == {"public": 1}

    serve(memory_cache, scenario)


def test_cookies_errors_posts_and_authorized_requests_are_never_cached() -> None:
    async def scenario(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        for _ in range(2):
            assert "set-cookie" in (await client.get("/session")).headers
            assert (await client.get("/missing")).status_code == 404
            assert (await client.post("/items")).json() == {"created": True}
            authorized = await client.get("/items/6", headers={"Authorization": "Bearer x"})
            assert "etag" not in authorized.headers
        assert calls == {"session": 2, "missing": 2, "create": 2, "item": 2}

    serve(memory_cache, scenario)


def test_responses_are_shared_through_redis(redis_url: str) -> None:
    shared = namespace("test:http")

    async def first_worker(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        await client.get("/items/7")
        assert calls == {"item": 1}
        redis = Redis.from_url(redis_url)
        key = TieredCache(redis, namespace=shared).value_key("GET /items/7")
        assert await redis.hexists(key, "http-response")
        await redis.aclose()

    async def second_worker(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        response = await client.get("/items/7")
        assert response.json() == {"id": 7, "name": "item 7"}
        assert calls == {}

    for scenario in (first_worker, second_worker):
        serve(lambda: TieredCache.from_url(redis_url, namespace=shared), scenario)


def test_concurrent_cold_requests_run_the_endpoint_once() -> None:
    async def scenario(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        responses = await asyncio.gather(*[client.get("/slow/1") for _ in range(20)])
        assert {response.json()["id"] for response in responses} == {1}
        assert len({response.headers["etag"] for response in responses}) == 1
        assert calls == {"slow": 1}

    serve(memory_cache, scenario)


def test_concurrent_uncacheable_responses_are_each_requests_own() -> None:
    async def scenario(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        responses = await asyncio.gather(*[client.get("/slow-session") for _ in range(5)])
        assert sorted(response.json()["n"] for response in responses) == [1, 2, 3, 4, 5]
        for response in responses:
            assert response.cookies["sid"] == str(response.json()["n"])
        assert calls == {"slow-session": 5}

    serve(memory_cache, scenario)


def test_max_age_zero_revalidates_with_etag_but_stores_nothing() -> None:
    async def scenario(client: httpx.AsyncClient, calls: dict[str, int]) -> None:
        first = await client.get("/revalidate-only")
        assert first.headers["cache-control"] == "public, max-age=0"
        again = await client.get(
            "/revalidate-only", headers={"If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304
        assert calls == {"revalidate-only": 2}

    serve(memory_cache, scenario)


def test_marked_endpoint_on_a_plain_route_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()

    @app.get("/plain")
    @cache_response(max_age=5)
    async def plain() -> dict[str, int]:
        return {"n": 1}

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for _ in range(2):
                response = await client.get("/plain")
                assert "etag" not in response.headers

    with caplog.at_level(logging.WARNING, logger="shipshape.cache"):
        asyncio.run(main())
    warnings = [record.message for record in caplog.records if "@cache_response" in record.message]
    assert len(warnings) == 1
    assert warnings[0].endswith(
        "<locals>.plain is marked @cache_response but its route is not a CachedRoute: "
        "nothing is cached (use APIRouter(route_class=CachedRoute))"
    )


@pytest.mark.parametrize("max_age", [-1, 1.5, True])
def test_bad_max_age_is_rejected(max_age: Any) -> None:
    with pytest.raises(ValueError, match="max_age"):
        cache_response(max_age=max_age)


@pytest.mark.parametrize("ttl", [-1, float("nan"), True])
def test_bad_server_ttl_is_rejected(ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl"):
        cache_response(max_age=5, ttl=ttl)
