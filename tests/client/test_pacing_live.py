"""Pacing against a sandbox with real (small) rate limits: Retry-After obeyed, client-side limiting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _accounts import PASSWORD, fresh_email

from mskclient import AsyncClient, Client, Pacer, RateLimitError
from mskclient.sandbox import Sandbox, SandboxConfig


@pytest.fixture(scope="module")
def limited_url() -> Iterator[str]:
    """A sandbox allowing 4 reads and 4 mutations per 2 s."""
    with Sandbox(SandboxConfig(rate_limits={"read": (4, 2), "mutation": (4, 2)})) as url:
        yield url


@pytest.fixture
def limited(limited_url: str) -> tuple[str, str]:
    """The sandbox and a fresh account (its own per-user windows)."""
    email = fresh_email("paced")
    with Client(limited_url, pacer=Pacer.unlimited()) as client:
        client.register(email, PASSWORD)
    return limited_url, email


def test_client_side_limiter_stays_under_the_limit(limited: tuple[str, str]) -> None:
    url, email = limited
    waits: list[tuple[float, str]] = []
    pacer = Pacer({"read": (4, 2), "mutation": (4, 2)}, share=0.75, on_wait=lambda s, r: waits.append((s, r)))
    with Client(url, pacer=pacer) as client:
        client.login(email, PASSWORD)  # login-init's per-IP window is shared with other tests: retries allowed
        pacer.max_retries = 0
        waits.clear()
        for _ in range(6):
            client.me()  # would be a RateLimitError (max_retries=0) if the pacer let a 429 happen
    assert [reason for _, reason in waits] and {reason for _, reason in waits} == {"read"}


def test_retry_after_is_obeyed(limited: tuple[str, str]) -> None:
    url, email = limited
    waits: list[tuple[float, str]] = []
    with Client(url, pacer=Pacer.unlimited(on_wait=lambda s, r: waits.append((s, r)))) as client:
        client.login(email, PASSWORD)
        for _ in range(8):
            client.me()
        assert any(reason == "retry-after" and seconds >= 1 for seconds, reason in waits)
        assert client.requests > 9  # the retried requests are counted too


def test_retry_after_gives_up_after_bounded_attempts(limited: tuple[str, str]) -> None:
    url, email = limited
    with Client(url, pacer=Pacer.unlimited()) as client:
        client.login(email, PASSWORD)
        client.pacer.max_retries = 0
        with pytest.raises(RateLimitError) as caught:
            for _ in range(8):
                client.me()
        assert caught.value.retry_after >= 1


async def test_async_retry_after_and_gather(limited: tuple[str, str]) -> None:
    url, email = limited
    waits: list[tuple[float, str]] = []
    async with AsyncClient(url, pacer=Pacer.unlimited(on_wait=lambda s, r: waits.append((s, r)))) as client:
        await client.login(email, PASSWORD)
        results = await client.gather(client.me() for _ in range(8))
    assert {me.user.email for me in results} == {email}
    assert any(reason == "retry-after" for _, reason in waits)
