"""The scheduler: timed rules and jobs kept in the database (ficha_job).

A job is claimed with a conditional UPDATE, so two workers never run the same job; a
claim expires, so a job whose worker crashed is picked up again. Runs inside
`ficha serve` (a background thread) and as `ficha worker`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.records import utcnow
from storage.manager import StorageManager

log = logging.getLogger("ficha.scheduler")

CLAIM_FOR = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
#: jobs stopped (and the administrators told) after MAX_ATTEMPTS failures in a row; the
#: webhook deliveries keep their own count and pause their webhook themselves
STOPPABLE = ("recurring", "rule")

Handler = Callable[[Connection, Mapping[str, Any]], Any]


def next_time(schedule: str, after: dt.datetime, timezone: str) -> dt.datetime:
    """The next moment (naive UTC) a schedule such as 'daily 07:00' comes due."""
    text = schedule.strip().lower()
    every = re.fullmatch(r"every (\d+) (minute|hour)s?", text)
    if every:
        unit = dt.timedelta(minutes=1) if every.group(2) == "minute" else dt.timedelta(hours=1)
        return after + unit * int(every.group(1))
    if text == "hourly":
        return after.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    match = re.fullmatch(r"(daily|weekdays) (\d{1,2}):(\d{2})", text)
    if not match:
        raise ValueError(f"cannot read the schedule '{schedule}'")
    zone = ZoneInfo(timezone)
    local = after.replace(tzinfo=dt.UTC).astimezone(zone)
    hour, minute = int(match.group(2)), int(match.group(3))
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    while candidate <= local or (match.group(1) == "weekdays" and candidate.weekday() >= 5):
        candidate += dt.timedelta(days=1)
    return candidate.astimezone(dt.UTC).replace(tzinfo=None)


class Scheduler:
    def __init__(self, storage: StorageManager, timezone: str = "Europe/Madrid") -> None:
        self.storage = storage
        self.timezone = timezone
        self.jobs = storage.tables.system["job"]
        self.handlers: dict[str, Handler] = {}
        #: told (a message) when a rule is stopped after repeated failures
        self.on_stopped: Callable[[str], None] | None = None
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    def handle(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def schedule(
        self,
        conn: Connection,
        kind: str,
        name: str,
        run_at: dt.datetime,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        conn.execute(
            self.jobs.insert().values(
                kind=kind, name=name[:200], run_at=run_at, payload=dict(payload or {}), attempts=0
            )
        )

    def ensure_recurring(self, name: str, schedule: str, payload: Mapping[str, Any]) -> None:
        """Make sure a pending job exists for a recurring schedule (idempotent). A pending
        run planned under another schedule (the YAML changed) is planned again; a rule
        stopped after repeated failures starts again here, at the next start."""
        j = self.jobs
        with self.storage.write() as conn:
            pending = conn.execute(
                sa.select(j.c.id, j.c.payload, j.c.attempts)
                .where(j.c.name == name, j.c.done_at.is_(None))
                .order_by(j.c.id)
            ).all()
            for job in pending:
                stuck = int(job.attempts or 0) >= MAX_ATTEMPTS  # left by an older version
                if stuck or (job.payload or {}).get("schedule") != schedule:
                    conn.execute(
                        j.update()
                        .where(j.c.id == job.id)
                        .values(
                            run_at=next_time(schedule, utcnow(), self.timezone),
                            payload={**(job.payload or {}), **payload, "schedule": schedule},
                            attempts=0,
                            error=None,
                        )
                    )
            if not pending:
                self.schedule(
                    conn,
                    "recurring",
                    name,
                    next_time(schedule, utcnow(), self.timezone),
                    {**payload, "schedule": schedule},
                )

    def due(self, now: dt.datetime | None = None, limit: int = 20) -> list[int]:
        now = now or utcnow()
        j = self.jobs
        with self.storage.read() as conn:
            return [
                int(i)
                for i in conn.execute(
                    sa.select(j.c.id)
                    .where(
                        j.c.done_at.is_(None),
                        j.c.run_at <= now,
                        j.c.attempts < MAX_ATTEMPTS,
                        sa.or_(j.c.claimed_until.is_(None), j.c.claimed_until < now),
                    )
                    .order_by(j.c.run_at, j.c.id)
                    .limit(limit)
                ).scalars()
            ]

    def claim(self, job_id: int, now: dt.datetime | None = None) -> bool:
        """Take a job for this worker; False if another worker holds it."""
        now = now or utcnow()
        j = self.jobs
        with self.storage.write() as conn:
            result = conn.execute(
                j.update()
                .where(
                    j.c.id == job_id,
                    j.c.done_at.is_(None),
                    sa.or_(j.c.claimed_until.is_(None), j.c.claimed_until < now),
                )
                .values(
                    claimed_by=self.worker_id,
                    claimed_until=now + CLAIM_FOR,
                    attempts=j.c.attempts + 1,
                )
            )
            return result.rowcount == 1

    def run_one(self, job_id: int) -> bool:
        """Run a claimed job in its own transaction; record the outcome."""
        j = self.jobs
        with self.storage.read() as conn:
            job = conn.execute(sa.select(j).where(j.c.id == job_id)).one()
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for jobs of kind '{job.kind}'")
            with self.storage.write() as conn:
                handler(conn, job.payload or {})
                conn.execute(
                    j.update().where(j.c.id == job_id).values(done_at=utcnow(), error=None)
                )
                if job.kind == "recurring":
                    payload = dict(job.payload or {})
                    self.schedule(
                        conn,
                        "recurring",
                        job.name,
                        next_time(str(payload["schedule"]), utcnow(), self.timezone),
                        payload,
                    )
            return True
        except Exception as exc:  # a job's failure is recorded and retried, never fatal
            log.warning("job %s (%s) failed: %s", job_id, job.name, exc)
            error = f"{type(exc).__name__}: {exc}"[:1900]
            stop = job.kind in STOPPABLE and int(job.attempts or 0) >= MAX_ATTEMPTS
            with self.storage.write() as conn:
                conn.execute(
                    j.update()
                    .where(j.c.id == job_id)
                    .values(
                        error=f"stopped after {MAX_ATTEMPTS} failures in a row; {error}"
                        if stop
                        else error,
                        claimed_until=utcnow()
                        + dt.timedelta(minutes=2 ** min(int(job.attempts or 1), 6)),
                        **({"done_at": utcnow()} if stop else {}),
                    )
                )
            if stop:
                self._stopped(job.name, error)
            return False

    def _stopped(self, name: str, error: str) -> None:
        """Tell the administrators a rule stopped (and why); never fails the scheduler."""
        message = (
            f"The rule {name} failed {MAX_ATTEMPTS} times in a row and was stopped: {error}. "
            "Fix it; it starts again when ficha serve or ficha worker starts."
        )
        log.error(message)
        if self.on_stopped is None:
            return
        try:
            self.on_stopped(message)
        except Exception as exc:  # the alert is a courtesy; the stop is recorded anyway
            log.warning("could not notify the administrators: %s", exc)

    def tick(self, now: dt.datetime | None = None) -> int:
        """Claim and run every due job; returns how many ran."""
        ran = 0
        for job_id in self.due(now):
            if self.claim(job_id, now):
                ran += self.run_one(job_id)
        return ran


class SchedulerThread(threading.Thread):
    """Runs the scheduler every few seconds inside `ficha serve`."""

    def __init__(self, scheduler: Scheduler, interval: float = 5.0) -> None:
        super().__init__(daemon=True, name="ficha-scheduler")
        self.scheduler = scheduler
        self.interval = interval
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            try:
                self.scheduler.tick()
            except Exception as exc:  # a database hiccup: try again next round
                log.warning("scheduler round failed: %s", exc)

    def stop(self) -> None:
        self.stop_event.set()
