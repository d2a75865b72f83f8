"""Live monitors: change notices → one recomputation per monitor and audience → every
open page, by server-sent events.

1. A record written through the records service marks its object on the transaction's
   connection (`changes.note_change`, from the `ficha_record_events` hook). Once the
   transaction has committed (the connection goes back to the pool), the objects are
   published.
2. Publishing goes through Redis (`FICHA_REDIS_URL`), so every web worker process of the
   project hears of a change made by any other; without Redis a process hears only its
   own changes (one `ficha serve` on SQLite).
3. Each process keeps one stream per monitor and audience with open pages. A notice
   marks the streams reading that object; after a short pause (a burst of writes is one
   change) the stream is recomputed once, in a worker thread, and the new payload goes to
   every page on it. Pages never poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import sqlalchemy as sa

from app_builder.reports.changes import COMMITTED, PENDING
from framework.permissions import Who
from framework.reports.compile import Monitor
from framework.reports.monitoring import audience, compute

if TYPE_CHECKING:
    from framework.app import Ficha

log = logging.getLogger("ficha.monitors")

#: a burst of writes closer together than this is one change for the monitors
DEBOUNCE_SECONDS = 0.15
KEEPALIVE_SECONDS = 15.0
Listener = Callable[[frozenset[str]], None]


# -- the bus: who hears of a change ------------------------------------------------------------


class LocalBus:
    """Changes heard inside this process only (no Redis configured)."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []

    def publish(self, objects: frozenset[str]) -> None:
        for listener in list(self.listeners):
            listener(objects)

    def listen(self, listener: Listener) -> None:
        self.listeners.append(listener)


class RedisBus:
    """Changes published on a Redis channel named after the project's database, heard
    by every process serving it (one subscriber thread per process)."""

    def __init__(self, url: str, channel: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.channel = channel
        self.listeners: list[Listener] = []
        self._thread: threading.Thread | None = None

    def publish(self, objects: frozenset[str]) -> None:
        try:
            self.client.publish(self.channel, json.dumps(sorted(objects)))
        except Exception as exc:  # monitors go stale; the write itself is done and stays
            log.warning("could not publish a change to Redis: %s", exc)

    def listen(self, listener: Listener) -> None:
        self.listeners.append(listener)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="ficha-bus")
            self._thread.start()

    def _run(self) -> None:
        import time

        while True:
            try:
                pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                for message in pubsub.listen():
                    objects = frozenset(json.loads(message["data"]))
                    for listener in list(self.listeners):
                        listener(objects)
            except Exception as exc:  # Redis restarted: subscribe again
                log.warning("monitor notices from Redis interrupted: %s", exc)
                time.sleep(1)


_BUSES: dict[str, LocalBus | RedisBus] = {}
_LOCK = threading.Lock()


def bus_for(ficha: Ficha) -> LocalBus | RedisBus:
    """One bus per process and database (all loads of a project share it)."""
    url = os.environ.get("FICHA_REDIS_URL", "")
    database = ficha.storage.url.render_as_string(hide_password=True)
    key = f"{url}|{database}"
    with _LOCK:
        bus = _BUSES.get(key)
        if bus is None:
            digest = hashlib.sha1(database.encode()).hexdigest()[:16]  # noqa: S324 - a name
            bus = _BUSES[key] = RedisBus(url, f"ficha:{digest}:changes") if url else LocalBus()
        return bus


def install_change_feed(ficha: Ficha) -> None:
    """Publish the objects a transaction changed once it has committed."""
    engine = ficha.storage.engine
    bus = bus_for(ficha)
    if engine.__dict__.get("_ficha_feed"):
        return
    engine.__dict__["_ficha_feed"] = True

    def on_commit(conn: Any) -> None:
        changed = conn.info.pop(PENDING, None)
        if changed:
            conn.info.setdefault(COMMITTED, set()).update(changed)

    def on_rollback(conn: Any) -> None:
        conn.info.pop(PENDING, None)

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        # the transaction is over and committed: readers now see the change
        changed = record.info.pop(COMMITTED, None) if record is not None else None
        if changed:
            bus.publish(frozenset(changed))

    sa.event.listen(engine, "commit", on_commit)
    sa.event.listen(engine, "rollback", on_rollback)
    sa.event.listen(engine.pool, "checkin", on_checkin)


# -- streams: one per monitor and audience -------------------------------------------------------


@dataclass(eq=False)
class Stream:
    monitor: Monitor
    who: Who  # any viewer of the audience: they all see the same
    payload: str = ""
    version: int = 0
    queues: set[asyncio.Queue[str]] = field(default_factory=set)
    dirty: bool = False
    running: bool = False
    computations: int = 0
    #: the computation in progress for pages being opened: they all wait for the same one
    loading: asyncio.Future[None] | None = None


class MonitorHub:
    """This process's open monitor pages, fed from the bus."""

    def __init__(self, ficha: Ficha) -> None:
        self.ficha = ficha
        self.streams: dict[tuple[Any, ...], Stream] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def _start(self) -> None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
            bus_for(self.ficha).listen(self._heard)

    def _heard(self, objects: frozenset[str]) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.changed, objects)

    def changed(self, objects: frozenset[str]) -> None:
        """(In the event loop.) Recompute every open stream that reads these objects."""
        for stream in list(self.streams.values()):
            if stream.queues and stream.monitor.objects & objects:
                self._schedule(stream)

    def _schedule(self, stream: Stream) -> None:
        stream.dirty = True
        if not stream.running:
            stream.running = True
            asyncio.get_running_loop().create_task(self._refresh(stream))

    async def _refresh(self, stream: Stream) -> None:
        try:
            while stream.dirty:
                await asyncio.sleep(DEBOUNCE_SECONDS)
                stream.dirty = False
                await self._compute(stream)
        finally:
            stream.running = False

    async def _compute(self, stream: Stream) -> None:
        try:
            data = await anyio.to_thread.run_sync(
                lambda: compute(self.ficha, stream.who, stream.monitor)
            )
        except Exception:  # shown as stale figures, never as a broken page
            log.exception("monitor %s could not be computed", stream.monitor.name)
            return
        stream.computations += 1
        payload = json.dumps(data, default=str)
        if payload == stream.payload:
            return
        stream.payload = payload
        stream.version += 1
        for queue in list(stream.queues):
            queue.put_nowait(payload)

    async def open(self, monitor: Monitor, who: Who) -> tuple[Stream, asyncio.Queue[str]]:
        self._start()
        key = (monitor.name, *audience(self.ficha, who, monitor))
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = Stream(monitor, who)
        if not stream.payload:
            await self._load(stream, fresh=False)
        queue: asyncio.Queue[str] = asyncio.Queue()
        stream.queues.add(queue)
        return stream, queue

    async def snapshot(self, monitor: Monitor, who: Who) -> dict[str, Any]:
        """The current payload for a page being opened: the stream's, when open pages
        keep it fresh; computed now otherwise."""
        self._start()
        key = (monitor.name, *audience(self.ficha, who, monitor))
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = Stream(monitor, who)
        if not stream.queues or not stream.payload:
            await self._load(stream, fresh=not stream.queues)
        return json.loads(stream.payload) if stream.payload else {"tiles": {}, "lists": {}}

    async def _load(self, stream: Stream, *, fresh: bool) -> None:
        """Compute for pages being opened; pages opened meanwhile share the result."""
        if stream.loading is None or (fresh and stream.loading.done()):
            stream.loading = asyncio.ensure_future(self._compute(stream))
        await asyncio.shield(stream.loading)

    def close(self, stream: Stream, queue: asyncio.Queue[str]) -> None:
        stream.queues.discard(queue)

    async def periodic(self, stream: Stream, seconds: int) -> None:
        """Monitors with `refresh:` recompute on a clock too (conditions on now())."""
        with contextlib.suppress(asyncio.CancelledError):
            while stream.queues:
                await asyncio.sleep(seconds)
                self._schedule(stream)


def hub_of(ficha: Ficha) -> MonitorHub:
    found = ficha.__dict__.get("_ficha_monitor_hub")
    if found is None:
        found = ficha.__dict__["_ficha_monitor_hub"] = MonitorHub(ficha)
    return found
