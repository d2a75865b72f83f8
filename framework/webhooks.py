"""Webhooks, a built-in plugin: record events sent to other systems as signed JSON.

A change that a subscription (`webhook` records, per object and event) wants is logged as
a `webhook_delivery` and queued as a scheduler job in the change's own transaction, so
only committed changes are ever sent. The scheduler (`ficha serve`, `ficha worker`) POSTs
it with an HMAC-SHA256 signature; a failed attempt is logged and retried with the
scheduler's backoff; after `pause_after` failures in a row the webhook is paused and its
administrators get a notification.

The receiver checks `X-Ficha-Signature: t=<unix time>,v1=<hex>` where the hex is
HMAC-SHA256(secret, "<t>.<body>").
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.records import Actor, RecordEvent, utcnow
from framework.scheduler import MAX_ATTEMPTS
from plugins import hookimpl
from storage.queries import LinkRef

if TYPE_CHECKING:
    from framework.app import Ficha

log = logging.getLogger("ficha.webhooks")

JOB = "webhook"
OWN = frozenset({"webhook", "webhook_delivery"})  # never sent: a delivery would send itself
CACHE_SECONDS = 5.0
TIMEOUT = 10.0
SYSTEM = Actor(None, "webhooks", "system")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = 300) -> bool:
    """What a receiver does (Python receivers may import this)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def _json(value: Any) -> Any:
    if isinstance(value, LinkRef):
        return {"id": value.id, "title": value.title}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    return value


class Webhooks:
    """One project's subscriptions and deliveries."""

    def __init__(self, ficha: Ficha) -> None:
        self.ficha = ficha
        self._cache: list[dict[str, Any]] = []
        self._cached_at = 0.0
        self._lock = threading.Lock()

    # -- events → queued deliveries -----------------------------------------------------------

    def subscriptions(self, conn: Connection) -> list[dict[str, Any]]:
        """Active webhooks, re-read every few seconds (another worker may have changed
        them) and at once after a change seen here."""
        with self._lock:
            if time.monotonic() - self._cached_at < CACHE_SECONDS:
                return self._cache
        table = self.ficha.storage.table("webhook")
        rows = conn.execute(
            sa.select(table.c.id, table.c.object_name, table.c.events).where(
                table.c.deleted_at.is_(None), table.c.active.is_(True)
            )
        ).all()
        found = [{"id": r.id, "object": r.object_name, "events": set(r.events or [])} for r in rows]
        with self._lock:
            self._cache, self._cached_at = found, time.monotonic()
        return found

    def forget(self) -> None:
        with self._lock:
            self._cached_at = 0.0

    def on_event(self, event: RecordEvent) -> None:
        self.on_events([event])

    def on_events(self, events: Sequence[RecordEvent]) -> None:
        if not events:
            return
        if any(e.object in OWN for e in events):
            self.forget()
        wanted = [e for e in events if e.object not in OWN]
        if not wanted:
            return
        conn = wanted[0].conn
        subscriptions = self.subscriptions(conn)
        if not subscriptions:
            return
        for event in wanted:
            for sub in subscriptions:
                if sub["object"] in (event.object, "*") and event.kind in sub["events"]:
                    self._queue(conn, sub["id"], event)

    def _queue(self, conn: Connection, webhook_id: int, event: RecordEvent) -> None:
        payload = {
            "event": f"{event.object}.{event.kind}",
            "object": event.object,
            "record": _json(dict(event.record)),
            "changes": {
                k: {"old": _json(o), "new": _json(n)} for k, (o, n) in event.changes.items()
            },
            "actor": {
                "id": event.actor.user_id,
                "name": event.actor.name,
                "channel": event.actor.channel,
            },
            "occurred_at": utcnow().isoformat() + "Z",
        }
        delivery = self.ficha.records.create(
            "webhook_delivery",
            {
                "webhook": webhook_id,
                "event": payload["event"],
                "record_id": event.record.get("id"),
                "status": "pending",
                "payload": payload,
            },
            SYSTEM,
            conn=conn,
        )
        self.ficha.scheduler.schedule(
            conn,
            JOB,
            f"webhook {webhook_id} {payload['event']}",
            utcnow(),
            {"delivery": delivery.id},
        )

    # -- deliveries (a scheduler job each) ---------------------------------------------------------

    def deliver(self, conn: Connection, job: Mapping[str, Any]) -> None:
        """Send one delivery. Runs inside the scheduler's transaction, which it writes to
        only after the HTTP call, so no lock is held while the receiver answers. Raising
        makes the scheduler try again later (it backs off 2, 4, 8 … minutes)."""
        ficha = self.ficha
        ident = int(job["delivery"])
        with ficha.storage.read() as reading:
            delivery = ficha.reader.get(reading, "webhook_delivery", ident)
            hook = (
                ficha.reader.get(reading, "webhook", delivery["webhook"].id)
                if delivery is not None and delivery.get("webhook") is not None
                else None
            )
        if delivery is None or hook is None or delivery["status"] in ("delivered", "failed"):
            return
        if not hook["active"]:
            ficha.records.update(
                "webhook_delivery", ident, {"status": "skipped"}, SYSTEM, conn=conn
            )
            return
        attempts = int(delivery["attempts"] or 0) + 1
        body = json.dumps(
            {"delivery": ident, "attempt": attempts, **(delivery["payload"] or {})},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        code, error = self._post(hook, ident, body)
        if code is not None and 200 <= code < 300:
            ficha.records.update(
                "webhook_delivery",
                ident,
                {
                    "status": "delivered",
                    "attempts": attempts,
                    "response_code": code,
                    "error": None,
                    "delivered_at": utcnow(),
                },
                SYSTEM,
                conn=conn,
            )
            if hook["failures"]:
                ficha.records.update("webhook", hook.id, {"failures": 0}, SYSTEM, conn=conn)
            return
        final = attempts >= MAX_ATTEMPTS
        failures = int(hook["failures"] or 0) + 1
        paused = failures >= int(hook["pause_after"] or 10)
        # written in their own transaction: the job's is rolled back to retry it
        with ficha.records.transaction() as own:
            ficha.records.update(
                "webhook_delivery",
                ident,
                {
                    "status": "failed" if final or paused else "retrying",
                    "attempts": attempts,
                    "response_code": code,
                    "error": error,
                },
                SYSTEM,
                conn=own,
            )
            changes: dict[str, Any] = {"failures": failures}
            if paused:
                changes.update(active=False, paused_at=utcnow())
            ficha.records.update("webhook", hook.id, changes, SYSTEM, conn=own)
            if paused:
                self._alert(own, hook, failures, error)
        self.forget()
        if not final and not paused:
            raise DeliveryFailed(f"{hook['url']} answered {code or error}; will try again")

    def _post(
        self, hook: Mapping[str, Any], ident: int, body: bytes
    ) -> tuple[int | None, str | None]:
        request = urllib.request.Request(  # noqa: S310 - the admin chose the URL (http/https only)
            str(hook["url"]),
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Ficha-Webhooks/1",
                "X-Ficha-Delivery": str(ident),
                "X-Ficha-Event": json.loads(body).get("event", ""),
                "X-Ficha-Signature": sign(str(hook["secret"]), body, int(time.time())),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                return int(response.status), None
        except urllib.error.HTTPError as exc:
            return int(exc.code), f"the receiver answered {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, f"could not reach {hook['url']}: {reason}"

    def _alert(
        self, conn: Connection, hook: Mapping[str, Any], failures: int, error: str | None
    ) -> None:
        """Tell the webhook's administrator (or every administrator) it was paused."""
        ficha = self.ficha
        users = ficha.storage.table("user")
        recipients: list[int] = []
        if hook.get("alert") is not None:
            recipients = [hook["alert"].id]
        else:
            recipients = [
                int(i)
                for i in conn.execute(
                    sa.select(users.c.id).where(
                        users.c.deleted_at.is_(None), users.c.role == "admin"
                    )
                ).scalars()
            ]
        message = (
            f"Webhook '{hook['name']}' was paused after {failures} failed deliveries in a row "
            f"({error or 'no answer'}); fix the receiver, then tick Active again"
        )[:500]
        for user_id in recipients:
            ficha.records.create(
                "notification",
                {
                    "recipient": user_id,
                    "message": message,
                    "level": "alert",
                    "about_object": "webhook",
                    "about_id": hook["id"],
                },
                SYSTEM,
                conn=conn,
            )
        log.warning("%s", message)


class DeliveryFailed(RuntimeError):
    """A delivery attempt failed; the scheduler tries it again later."""


def webhooks_of(ficha: Ficha) -> Webhooks:
    """The project's webhooks (the scheduler's handler of webhook jobs is their method)."""
    handler = ficha.scheduler.handlers[JOB]
    owner = getattr(handler, "__self__", None)
    assert isinstance(owner, Webhooks)
    return owner


@hookimpl
def ficha_startup(ficha: Ficha) -> None:
    if "webhook" not in ficha.model or "webhook_delivery" not in ficha.model:
        return
    hooks = Webhooks(ficha)
    ficha.records.subscribe(hooks.on_event, batch=hooks.on_events)
    ficha.scheduler.handle(JOB, hooks.deliver)
