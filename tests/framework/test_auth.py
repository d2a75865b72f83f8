"""Signing in: argon2id passwords, server-side sessions that can be revoked, lockout after
failed attempts, throttling per address, API tokens, and the audit of it all."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from framework.auth import LoginRefused
from framework.errors import ValidationFailed
from framework.records import utcnow
from tests.conftest import PASSWORD, ProjectFactory, make_user

NOTE = {"note": "object: note\nfields:\n  text: string\n"}


@pytest.fixture
def ficha(project: ProjectFactory):
    ficha = project.migrated(NOTE)
    make_user(ficha, "ana", role="admin", email="ana@example.com")
    return ficha


def audit_actions(ficha) -> list[str]:
    audit = ficha.storage.tables.system["audit"]
    with ficha.storage.read() as conn:
        return list(conn.execute(sa.select(audit.c.action).order_by(audit.c.id)).scalars())


def test_a_password_is_kept_only_as_an_argon2id_hash(ficha) -> None:
    credentials = ficha.storage.tables.system["credential"]
    with ficha.storage.read() as conn:
        digest = conn.execute(sa.select(credentials.c.password_hash)).scalar_one()
    assert digest.startswith("$argon2id$") and PASSWORD not in digest
    signed = ficha.auth.login("ANA", PASSWORD, ip="10.0.0.1")  # usernames ignore case
    user, must_change = ficha.auth.session_user(signed.token)
    assert user["username"] == "ana" and must_change is False


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "must have at least 10 characters"),
        ("password123", "is too easy to guess"),
        ("aaaaaaaaaaaa", "is too easy to guess"),
        ("my-ana-is-great", "must not contain your username or email"),
    ],
)
def test_the_password_policy(ficha, password: str, problem: str) -> None:
    with ficha.storage.read() as conn:
        ana = ficha.reader.list(conn, "user", limit=1)[0]
    with pytest.raises(ValidationFailed) as info:
        ficha.auth.set_password(ana.id, password)
    assert problem in info.value.errors["password"]


def test_wrong_passwords_lock_the_account_and_never_say_which_part_was_wrong(ficha) -> None:
    for _ in range(5):
        with pytest.raises(LoginRefused, match=r"^wrong username or password$"):
            ficha.auth.login("ana", "not the password", ip="10.0.0.2")
    with pytest.raises(LoginRefused, match="locked after 5 failed sign-ins"):
        ficha.auth.login("ana", PASSWORD, ip="10.0.0.2")  # even the right one, for now
    with pytest.raises(LoginRefused, match=r"^wrong username or password$"):
        ficha.auth.login("nobody", PASSWORD, ip="10.0.0.2")  # same answer for no such user
    credentials = ficha.storage.tables.system["credential"]
    with ficha.storage.write() as conn:  # … 15 minutes later
        conn.execute(credentials.update().values(locked_until=utcnow() - dt.timedelta(seconds=1)))
    assert ficha.auth.login("ana", PASSWORD, ip="10.0.0.3").user["username"] == "ana"
    actions = audit_actions(ficha)
    assert actions.count("login_failed") == 7 and actions[-1] == "login"


def test_many_failures_from_one_address_are_throttled(ficha) -> None:
    for i in range(20):
        with pytest.raises(LoginRefused):
            ficha.auth.login(f"guess{i}", "x" * 12, ip="203.0.113.9")
    with pytest.raises(LoginRefused, match="too many failed sign-ins from your address"):
        ficha.auth.login("ana", PASSWORD, ip="203.0.113.9")
    assert ficha.auth.login("ana", PASSWORD, ip="203.0.113.10")  # another address is fine


def test_sessions_can_be_revoked_one_or_all(ficha) -> None:
    first = ficha.auth.login("ana", PASSWORD).token
    second = ficha.auth.login("ana", PASSWORD).token
    ficha.auth.logout(first)
    assert ficha.auth.session_user(first) is None
    assert ficha.auth.session_user(second) is not None
    assert ficha.auth.logout_everywhere(ficha.auth.session_user(second)[0]["id"]) == 1
    assert ficha.auth.session_user(second) is None
    assert ficha.auth.session_user(second[:-2] + "xx") is None  # forged: signature fails


def test_disabled_users_cannot_sign_in_and_lose_their_sessions(ficha) -> None:
    token = ficha.auth.login("ana", PASSWORD).token
    user = ficha.auth.session_user(token)[0]
    ficha.records.update("user", user["id"], {"active": False})
    assert ficha.auth.session_user(token) is None
    with pytest.raises(LoginRefused, match="disabled"):
        ficha.auth.login("ana", PASSWORD)


def test_api_tokens_are_hashed_scoped_expiring_and_revocable(ficha) -> None:
    user = ficha.auth.session_user(ficha.auth.login("ana", PASSWORD).token)[0]
    raw = ficha.auth.create_token(user["id"], "erp sync", role="reader", days=30)
    tokens = ficha.storage.tables.system["token"]
    with ficha.storage.read() as conn:
        stored = conn.execute(sa.select(tokens)).one()
    assert raw not in str(stored._mapping.values())
    found, role = ficha.auth.token_user(raw)
    assert found["username"] == "ana" and role == "reader"
    with ficha.storage.write() as conn:
        conn.execute(tokens.update().values(expires_at=utcnow() - dt.timedelta(days=1)))
    assert ficha.auth.token_user(raw) is None
    fresh = ficha.auth.create_token(user["id"], "again")
    ficha.auth.revoke_token(ficha.auth.token_user(fresh) and stored.id + 1)
    assert ficha.auth.token_user(fresh) is None


def test_first_sign_in_must_change_the_password(ficha) -> None:
    user = make_user(ficha, "luis", role="admin")
    ficha.auth.set_password(user.id, "a first password 2026", must_change=True)
    signed = ficha.auth.login("luis", "a first password 2026")
    assert signed.must_change
    with pytest.raises(ValidationFailed, match="current_password"):
        ficha.auth.change_password(user.id, "wrong", "another good password")
    ficha.auth.change_password(user.id, "a first password 2026", "another good password")
    assert ficha.auth.login("luis", "another good password").must_change is False
