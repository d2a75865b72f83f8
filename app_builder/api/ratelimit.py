"""Rate limits per API token (or user, or address): a fixed window counted where every
web worker sees it — Redis when FICHA_REDIS_URL is set, else the database's counter
table — never in one process's memory.
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass
from typing import Any

from storage import counters
from storage.manager import StorageManager

log = logging.getLogger("ficha.api")

DEFAULT_PER_MINUTE = 600
WINDOW = 60  # seconds
PREFIX = "rate:"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window ends

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.retry_after),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def per_minute_from_env() -> int:
    try:
        return max(1, int(os.environ.get("FICHA_API_RATE_LIMIT", DEFAULT_PER_MINUTE)))
    except ValueError:
        return DEFAULT_PER_MINUTE


class RateLimiter:
    """`hit(who)` counts one request of `who` and says whether it may go on."""

    def __init__(self, storage: StorageManager, per_minute: int, redis_url: str | None = None):
        self.storage = storage
        self.per_minute = per_minute
        self.counters = storage.tables.system["counter"]
        self.redis: Any = None
        if redis_url:
            import redis

            self.redis = redis.Redis.from_url(redis_url)

    def hit(self, who: str, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        window = int(now // WINDOW)
        retry = max(1, int((window + 1) * WINDOW - now))
        name = f"{PREFIX}{who}:{window}"[:120]
        count = self._redis(name) if self.redis is not None else self._database(name, window)
        remaining = self.per_minute - count
        return Verdict(count <= self.per_minute, self.per_minute, remaining, retry)

    def _redis(self, name: str) -> int:
        pipe = self.redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, WINDOW * 2)
        return int(pipe.execute()[0])

    def _database(self, name: str, window: int) -> int:
        with self.storage.write() as conn:
            count = counters.increment(conn, self.counters, name)
            if random.random() < 0.05:  # noqa: S311 - housekeeping, not security
                # counters of windows that ended are of no use: drop them now and then
                counters.forget(conn, self.counters, PREFIX, f":{window}")
            return count
