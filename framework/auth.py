"""Sign-in: passwords (argon2id), server-side sessions, API tokens, throttling and lockout.

Secrets never live on the `user` object (which has screens): password hashes, sessions
and token hashes are in Ficha's own tables. Every sign-in, failed sign-in and password
change is written to the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeSerializer

from framework.audit import AuditTrail
from framework.errors import FichaError, ValidationFailed
from framework.records import Actor, RecordService, utcnow
from storage.manager import StorageManager

SESSION_DAYS = 7
REMEMBER_DAYS = 30
LOCK_AFTER = 5  # failed sign-ins in a row
LOCK_FOR = dt.timedelta(minutes=15)
ADDRESS_LIMIT = 20  # failed sign-ins from one address …
ADDRESS_WINDOW = dt.timedelta(minutes=15)  # … within this time
MIN_PASSWORD = 10
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "123456789",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "1q2w3e4r5t",
        "contraseña",
        "contrasena",
        "administrator",
        "welcome123",
        "iloveyou12",
        "letmein123",
        "abcdefghij",
        "0987654321",
        "1111111111",
        "passw0rd123",
        "changeme123",
        "superman123",
        "football12",
    }
)


class LoginRefused(FichaError):
    """Sign-in refused; the message is safe to show (it never says which part was wrong)."""


@dataclass(frozen=True)
class SignedIn:
    user: Mapping[str, Any]
    token: str  # the cookie value (signed)
    must_change: bool
    expires_at: dt.datetime


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def actor_of(user: Mapping[str, Any], channel: str) -> Actor:
    team = user.get("team")
    return Actor(
        int(user["id"]),
        str(user.get("name") or user.get("username")),
        channel,
        user.get("role"),
        getattr(team, "title", team),
        user.get("territory"),
        user.get("email"),
    )


class Auth:
    def __init__(
        self, storage: StorageManager, records: RecordService, audit: AuditTrail, secret_key: str
    ) -> None:
        self.storage = storage
        self.records = records
        self.audit = audit
        self.hasher = PasswordHasher()  # argon2id with the library's current parameters
        self.signer = URLSafeSerializer(secret_key, salt="ficha-session")
        t = storage.tables.system
        self.credentials, self.sessions = t["credential"], t["session"]
        self.tokens, self.attempts = t["token"], t["login_attempt"]

    # -- passwords ------------------------------------------------------------------------

    def policy_problem(self, password: str, user: Mapping[str, Any]) -> str | None:
        if len(password) < MIN_PASSWORD:
            return f"must have at least {MIN_PASSWORD} characters"
        lowered = password.lower()
        if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
            return "is too easy to guess; use a few unrelated words"
        for part in (user.get("username"), user.get("email")):
            if part and str(part).split("@")[0].lower() in lowered:
                return "must not contain your username or email"
        return None

    def set_password(
        self, user_id: int, password: str, *, must_change: bool = False, actor: Actor | None = None
    ) -> None:
        user = self.records.get("user", user_id)
        problem = self.policy_problem(password, user)
        if problem:
            raise ValidationFailed("user", {"password": problem})
        digest = self.hasher.hash(password)
        with self.storage.write() as conn:
            conn.execute(self.credentials.delete().where(self.credentials.c.user_id == user_id))
            conn.execute(
                self.credentials.insert().values(
                    user_id=user_id,
                    password_hash=digest,
                    must_change=must_change,
                    changed_at=utcnow(),
                    failed_logins=0,
                    locked_until=None,
                )
            )
            self.audit.log(
                conn,
                "password_set",
                actor or Actor(),
                object_name="user",
                record_id=user_id,
                details={"must_change": must_change},
            )

    def change_password(self, user_id: int, current: str, new: str) -> None:
        with self.storage.read() as conn:
            row = conn.execute(
                sa.select(self.credentials.c.password_hash).where(
                    self.credentials.c.user_id == user_id
                )
            ).first()
        if row is None or not self._verify(row.password_hash, current):
            raise ValidationFailed("user", {"current_password": "is not your current password"})
        if new == current:
            raise ValidationFailed("user", {"password": "must differ from the current one"})
        user = self.records.get("user", user_id)
        self.set_password(user_id, new, actor=actor_of(user, "screen"))

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return self.hasher.verify(digest, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # -- sign in and out ---------------------------------------------------------------------

    def login(
        self,
        username: str,
        password: str,
        *,
        ip: str = "",
        user_agent: str = "",
        remember: bool = False,
    ) -> SignedIn:
        now = utcnow()
        users = self.storage.table("user")
        with self.storage.read() as conn:
            recent_failures = conn.execute(
                sa.select(sa.func.count()).where(
                    self.attempts.c.ip == ip,
                    self.attempts.c.ok.is_(False),
                    self.attempts.c.at > now - ADDRESS_WINDOW,
                )
            ).scalar_one()
            row = conn.execute(
                sa.select(users.c.id, self.credentials)
                .join(self.credentials, self.credentials.c.user_id == users.c.id)
                .where(
                    sa.func.lower(users.c.username) == username.strip().lower(),
                    users.c.deleted_at.is_(None),
                )
            ).first()
        if recent_failures >= ADDRESS_LIMIT:
            self._attempt(username, ip, ok=False, reason="too many attempts from the address")
            raise LoginRefused("too many failed sign-ins from your address; wait 15 minutes")
        if row is not None and row.locked_until is not None and row.locked_until > now:
            self._attempt(username, ip, ok=False, reason="locked", user_id=row.id)
            minutes = int((row.locked_until - now).total_seconds() // 60) + 1
            raise LoginRefused(
                f"this account is locked after {LOCK_AFTER} failed sign-ins; "
                f"try again in {minutes} minutes or ask an administrator"
            )
        if row is None or not self._verify(row.password_hash, password):
            self._failed(row, username, ip)
            raise LoginRefused("wrong username or password")
        record = self.records.get("user", int(row.id))
        if record.get("active") is False:
            self._attempt(username, ip, ok=False, reason="disabled", user_id=row.id)
            raise LoginRefused("this account is disabled; ask an administrator")
        raw = secrets.token_urlsafe(32)
        expires = now + dt.timedelta(days=REMEMBER_DAYS if remember else SESSION_DAYS)
        with self.storage.write() as conn:
            conn.execute(
                self.sessions.insert().values(
                    id=token_hash(raw),
                    user_id=row.id,
                    created_at=now,
                    expires_at=expires,
                    ip=ip[:64],
                    user_agent=user_agent[:255],
                )
            )
            conn.execute(
                self.credentials.update()
                .where(self.credentials.c.user_id == row.id)
                .values(failed_logins=0, locked_until=None)
            )
            if self.hasher.check_needs_rehash(row.password_hash):
                conn.execute(
                    self.credentials.update()
                    .where(self.credentials.c.user_id == row.id)
                    .values(password_hash=self.hasher.hash(password))
                )
        self._attempt(username, ip, ok=True, user_id=int(row.id))
        return SignedIn(record, self.signer.dumps(raw), bool(row.must_change), expires)

    def _failed(self, row: Any, username: str, ip: str) -> None:
        if row is not None:
            failures = int(row.failed_logins or 0) + 1
            locked = utcnow() + LOCK_FOR if failures >= LOCK_AFTER else None
            with self.storage.write() as conn:
                conn.execute(
                    self.credentials.update()
                    .where(self.credentials.c.user_id == row.id)
                    .values(failed_logins=failures, locked_until=locked)
                )
        self._attempt(
            username,
            ip,
            ok=False,
            reason="wrong password",
            user_id=None if row is None else int(row.id),
        )

    def _attempt(
        self, username: str, ip: str, *, ok: bool, reason: str = "", user_id: int | None = None
    ) -> None:
        with self.storage.write() as conn:
            conn.execute(
                self.attempts.insert().values(
                    at=utcnow(), ip=ip[:64], username=username[:120], ok=ok
                )
            )
            self.audit.log(
                conn,
                "login" if ok else "login_failed",
                Actor(user_id, username[:120], "screen"),
                object_name="user",
                record_id=user_id,
                details={"ip": ip, **({"reason": reason} if reason else {})},
            )

    def session_user(self, cookie: str) -> tuple[Mapping[str, Any], bool] | None:
        """The user behind a session cookie, and whether they must change their password;
        None when the cookie is forged, expired or revoked."""
        try:
            raw = self.signer.loads(cookie)
        except BadSignature:
            return None
        if not isinstance(raw, str):
            return None
        now = utcnow()
        session = (
            sa.select(self.sessions.c.user_id)
            .where(
                self.sessions.c.id == token_hash(raw),
                self.sessions.c.revoked_at.is_(None),
                self.sessions.c.expires_at > now,
            )
            .scalar_subquery()
        )
        credentials = self.credentials

        def must_change(users: sa.FromClause) -> Any:
            return (
                sa.select(credentials.c.must_change)
                .where(credentials.c.user_id == users.c.id)
                .scalar_subquery()
            )

        users = self.storage.table("user")
        with self.storage.read() as conn:  # one query: the session, its user, must-change
            found = self.records.reader.list(
                conn,
                "user",
                where=[users.c.id == session],
                limit=1,
                extra={"_must_change": must_change},
            )
        if not found or found[0].get("active") is False:
            return None
        user = found[0]
        return user, bool(user.pop("_must_change", False))

    def logout(self, cookie: str) -> None:
        try:
            raw = self.signer.loads(cookie)
        except BadSignature:
            return
        with self.storage.write() as conn:
            conn.execute(
                self.sessions.update()
                .where(self.sessions.c.id == token_hash(raw))
                .values(revoked_at=utcnow())
            )

    def logout_everywhere(self, user_id: int, actor: Actor | None = None) -> int:
        with self.storage.write() as conn:
            result = conn.execute(
                self.sessions.update()
                .where(self.sessions.c.user_id == user_id, self.sessions.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            self.audit.log(
                conn, "logout_everywhere", actor or Actor(), object_name="user", record_id=user_id
            )
            return int(result.rowcount)

    # -- API tokens ------------------------------------------------------------------------------

    def create_token(
        self,
        user_id: int,
        name: str,
        *,
        role: str | None = None,
        days: int | None = 90,
        actor: Actor | None = None,
    ) -> str:
        """A new token; its value is shown once and only its hash is kept."""
        raw = "ficha_" + secrets.token_urlsafe(32)
        now = utcnow()
        with self.storage.write() as conn:
            conn.execute(
                self.tokens.insert().values(
                    user_id=user_id,
                    name=name[:80],
                    token_hash=token_hash(raw),
                    role=role,
                    created_at=now,
                    expires_at=now + dt.timedelta(days=days) if days else None,
                )
            )
            self.audit.log(
                conn,
                "token_created",
                actor or Actor(),
                object_name="user",
                record_id=user_id,
                details={"name": name, "role": role},
            )
        return raw

    def token_user(self, raw: str) -> tuple[Mapping[str, Any], str | None] | None:
        """The user a token stands for and the role it is limited to, or None."""
        now = utcnow()
        t = self.tokens
        with self.storage.read() as conn:
            row = conn.execute(
                sa.select(t.c.id, t.c.user_id, t.c.role).where(
                    t.c.token_hash == token_hash(raw),
                    t.c.revoked_at.is_(None),
                    sa.or_(t.c.expires_at.is_(None), t.c.expires_at > now),
                )
            ).first()
            if row is None:
                return None
            user = self.records.reader.get(conn, "user", int(row.user_id))
        if user is None or user.get("active") is False:
            return None
        return user, row.role

    def revoke_token(self, token_id: int, actor: Actor | None = None) -> None:
        with self.storage.write() as conn:
            conn.execute(
                self.tokens.update().where(self.tokens.c.id == token_id).values(revoked_at=utcnow())
            )
            self.audit.log(
                conn, "token_revoked", actor or Actor(), object_name="token", record_id=token_id
            )
