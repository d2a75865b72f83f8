"""Webhooks against a receiver this test starts on 127.0.0.1: signed deliveries of
committed changes, retries with backoff when it fails, a delivery log, and a webhook
paused after repeated failures with its administrator alerted."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from framework.records import utcnow
from framework.webhooks import verify, webhooks_of
from tests.conftest import ProjectFactory, make_user
from tests.samples import SHOP

SECRET = "s3cret-for-tests"


class Receiver:
    """An HTTP server that records what it gets and fails while told to."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_next = 0
        self.always_fail = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    {"body": body, "headers": dict(self.headers), "json": json.loads(body)}
                )
                failing = receiver.always_fail or receiver.fail_next > 0
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def shop(sqlite_project: ProjectFactory) -> Any:
    return sqlite_project.migrated(SHOP)


def subscribe(shop: Any, receiver: Receiver, **values: Any) -> Any:
    return shop.records.create(
        "webhook",
        {
            "name": "ERP",
            "url": receiver.url,
            "object_name": "customer",
            "events": ["created", "updated"],
            "secret": SECRET,
            **values,
        },
    )


def deliveries(shop: Any) -> list[Any]:
    with shop.storage.read() as conn:
        return shop.reader.list(conn, "webhook_delivery", limit=0, sort=[])


def later(minutes: int) -> dt.datetime:
    return utcnow() + dt.timedelta(minutes=minutes)


def test_signed_delivery_of_committed_changes(shop: Any, receiver: Receiver) -> None:
    subscribe(shop, receiver)
    ana = shop.records.create("customer", {"name": "Ana", "email": "ana@example.com"})
    shop.records.create("product", {"code": "P-1", "name": "Not watched"})
    assert receiver.received == []  # queued, sent by the scheduler
    assert shop.scheduler.tick() == 1
    [got] = receiver.received
    assert verify(SECRET, got["body"], got["headers"]["X-Ficha-Signature"])
    assert not verify("wrong", got["body"], got["headers"]["X-Ficha-Signature"])
    assert got["json"]["event"] == "customer.created"
    assert got["json"]["record"]["name"] == "Ana" and got["json"]["record"]["id"] == ana.id
    assert got["headers"]["X-Ficha-Event"] == "customer.created"
    [logged] = deliveries(shop)
    assert logged["status"] == "delivered" and logged["response_code"] == 204
    shop.records.update("customer", ana.id, {"name": "Ana María"})
    shop.scheduler.tick()
    assert receiver.received[-1]["json"]["changes"]["name"] == {"old": "Ana", "new": "Ana María"}


def test_a_failed_change_sends_nothing(shop: Any, receiver: Receiver) -> None:
    subscribe(shop, receiver)
    results = shop.records.write_many("customer", [{"name": "A"}, {"email": "bad"}])
    assert [r.action for r in results] == ["created", "failed"]
    assert len(deliveries(shop)) == 1  # the batch path queues its events too
    with pytest.raises(Exception, match="email"):
        shop.records.create("customer", {"name": "B", "email": "nope"})
    assert len(deliveries(shop)) == 1


def test_retries_with_backoff_until_the_receiver_answers(shop: Any, receiver: Receiver) -> None:
    subscribe(shop, receiver)
    receiver.fail_next = 2
    shop.records.create("customer", {"name": "Ana"})
    assert shop.scheduler.tick() == 0  # attempted, failed
    [logged] = deliveries(shop)
    assert logged["status"] == "retrying" and logged["attempts"] == 1
    assert logged["response_code"] == 500
    assert shop.scheduler.tick() == 0 and len(receiver.received) == 1  # backing off
    assert shop.scheduler.tick(later(3)) == 0 and len(receiver.received) == 2
    assert shop.scheduler.tick(later(10)) == 1 and len(receiver.received) == 3
    [logged] = deliveries(shop)
    assert logged["status"] == "delivered" and logged["attempts"] == 3
    assert {r["json"]["delivery"] for r in receiver.received} == {logged.id}
    assert [r["json"]["attempt"] for r in receiver.received] == [1, 2, 3]


def test_paused_after_repeated_failures_and_the_admin_alerted(
    shop: Any, receiver: Receiver
) -> None:
    admin = make_user(shop)
    hook = subscribe(shop, receiver, pause_after=3)
    receiver.always_fail = True
    for name in ("A", "B", "C"):
        shop.records.create("customer", {"name": name})
    shop.scheduler.tick()
    with shop.storage.read() as conn:
        paused = shop.reader.get(conn, "webhook", hook.id)
        notes = shop.reader.list(conn, "notification", limit=0, sort=[])
    assert paused["active"] is False and paused["paused_at"] is not None
    assert paused["failures"] == 3
    assert [n["recipient"].id for n in notes] == [admin.id]
    assert "paused" in notes[0]["message"] and notes[0]["level"] == "alert"
    sent = len(receiver.received)
    shop.records.create("customer", {"name": "D"})  # a paused webhook queues nothing
    shop.scheduler.tick(later(60))
    assert len(receiver.received) == sent
    assert webhooks_of(shop).subscriptions is not None


def test_delivery_log_screen(shop: Any, receiver: Receiver) -> None:
    from starlette.testclient import TestClient

    from app_builder.security import COOKIE
    from framework.app import create_app
    from tests.conftest import session_cookie

    make_user(shop)
    subscribe(shop, receiver)
    shop.records.create("customer", {"name": "Ana"})
    shop.scheduler.tick()
    with TestClient(create_app(shop.settings, ficha=shop)) as client:
        client.cookies.set(COOKIE, session_cookie(shop))
        page = client.get("/admin/webhook_delivery/list")
        assert page.status_code == 200 and "Webhook deliveries" in page.text
