"""Rate limits of the public page, each configurable: 429 with Retry-After, sliding windows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _accounts import User, make_board

from mskclient.crypto import b64u_encode
from mskclient.sandbox import ManualClock, Sandbox, SandboxConfig

from ._helpers import SERVER_SECRET, error

LIMITS = {"login": (2, 60), "register": (3, 3600), "mutation": (8, 60), "read": (5, 60)}


@pytest.fixture
def limited(clock: ManualClock) -> Iterator[str]:
    with Sandbox(SandboxConfig(server_secret=SERVER_SECRET, clock=clock, rate_limits=LIMITS)) as url:
        yield url


def test_read_and_mutation_limits_per_user(limited: str, clock: ManualClock) -> None:
    alice = User(limited, "alice@example.org").signed_up()
    bob = User(limited, "bob@example.org").signed_up()
    board = make_board(alice)  # 3 mutations
    for _ in range(5):
        assert alice.http.get(f"/boards/{board.id}").status_code == 200
    r = alice.http.get(f"/boards/{board.id}")
    error(r, 429, "RATE_LIMITED")
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert bob.http.get("/me").status_code == 200  # per user
    for _ in range(5):
        assert alice.card(board.column, board.bk)["id"]
    error(alice.http.post(f"/boards/{board.id}/columns", json={}), 429, "RATE_LIMITED")
    clock.advance(61)
    assert alice.http.get(f"/boards/{board.id}").status_code == 200
    assert alice.card(board.column, board.bk)["id"]
    alice.close()
    bob.close()


def test_login_and_register_limits_per_ip(limited: str, clock: ManualClock) -> None:
    users = [User(limited, f"u{i}@example.org") for i in range(4)]
    for user in users[:3]:
        user.register()
    with pytest.raises(AssertionError, match="RATE_LIMITED"):
        users[3].register()
    bad = {"email": "u0@example.org", "authHash": b64u_encode(b"\1" * 32)}
    error(users[0].http.post("/auth/login", json=bad), 401)
    assert users[1].login().status_code == 200
    r = users[2].login()
    error(r, 429, "RATE_LIMITED")
    assert int(r.headers["retry-after"]) >= 1
    clock.advance(60)
    assert users[2].login().status_code == 200
    clock.advance(3600)
    users[3].register()
    for user in users:
        user.close()


def test_lift_limits_turns_everything_off() -> None:
    lifted = SandboxConfig().lift_limits()
    assert lifted.rate_limits == {} and lifted.login_backoff is False
    assert SandboxConfig().rate_limits == {
        "login": (10, 60),
        "register": (5, 3600),
        "mutation": (60, 60),
        "read": (600, 60),
        "lookup": (30, 3600),
    }


def test_limiter_window_slides_and_forgets_idle_keys() -> None:
    from mskclient.sandbox._security import RateLimiter

    limiter = RateLimiter({"read": (2, 10)})
    assert limiter.hit("read", "a", 0.0) is None
    assert limiter.hit("read", "a", 5.0) is None
    assert limiter.hit("read", "a", 6.0) == 4
    assert limiter.hit("read", "a", 10.5) is None  # the hit at 0 left the window
    assert limiter.hit("other", "a", 0.0) is None  # unlimited group
    for i in range(10_000):
        limiter.hit("read", f"user{i}", 100.0)
    assert len(limiter._hits) <= 10_000
    limiter._prune(1000.0)
    assert limiter._hits == {}


def test_process_sandbox_refuses_what_it_cannot_pass_on() -> None:
    from mskclient._errors import UsageError

    with pytest.raises(UsageError):
        Sandbox(SandboxConfig(), process=True)
    with pytest.raises(UsageError):
        Sandbox(SandboxConfig(db_path="x.db", server_secret=b"s" * 32), process=True)


def test_lookup_reveals_existence_only_to_logged_in_users_at_a_bounded_rate(clock: ManualClock) -> None:
    """login-init answers alike for unknown emails; lookup tells a member whom they may invite,
    so it needs a session and has its own small quota, separate from the read budget."""
    limits = {**LIMITS, "read": (100, 60), "lookup": (3, 3600)}
    with Sandbox(SandboxConfig(server_secret=SERVER_SECRET, clock=clock, rate_limits=limits)) as url:
        alice = User(url, "alice@example.org").signed_up()
        bob = User(url, "bob@example.org").signed_up()
        anonymous = User(url, "nobody@example.org")
        error(anonymous.http.get("/users/lookup", params={"email": "bob@example.org"}), 401, "UNAUTHORIZED")
        assert alice.http.get("/users/lookup", params={"email": "bob@example.org"}).status_code == 200
        error(alice.http.get("/users/lookup", params={"email": "ghost@example.org"}), 404, "NOT_FOUND")
        assert alice.http.get("/users/lookup", params={"email": "bob@example.org"}).status_code == 200
        r = alice.http.get("/users/lookup", params={"email": "ghost@example.org"})  # unknown emails count too
        error(r, 429, "RATE_LIMITED")
        assert 3000 <= int(r.headers["retry-after"]) <= 3600
        assert alice.http.get("/me").status_code == 200  # the read budget is another one
        assert bob.http.get("/users/lookup", params={"email": "alice@example.org"}).status_code == 200  # per user
        clock.advance(3601)
        assert alice.http.get("/users/lookup", params={"email": "bob@example.org"}).status_code == 200
        for user in (alice, bob, anonymous):
            user.close()
