"""Live monitors: a change saved by another process reaches every open monitor page by
server-sent events, through Redis, computed once for all of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import httpx
import pytest

from app_builder.security import COOKIE
from tests.conftest import IN_CI, make_user, session_cookie
from tests.reports import calls

REDIS = os.environ.get("FICHA_TEST_REDIS", "redis://127.0.0.1:6379/15")
VIEWERS = 5

WRITER = """
import sys, time
from framework.app import Ficha
from framework.settings import Settings
from framework.records import Actor
ficha = Ficha.load(Settings.load(sys.argv[1]))
ficha.records.update("call", int(sys.argv[2]), {"outcome": "HANG"}, Actor(None, "elsewhere", "cli"))
print(time.time(), flush=True)
"""


def redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS).ping()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {REDIS}: {exc}", pytrace=False)
        pytest.skip(f"Redis is not reachable at {REDIS}: {exc}")


class Viewer(threading.Thread):
    """One open monitor page: reads the event stream, keeps each payload and its time."""

    def __init__(self, url: str, cookie: str) -> None:
        super().__init__(daemon=True)
        self.url, self.cookie = url, cookie
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(10, read=30)) as web:
            web.cookies.set(COOKIE, self.cookie)
            with web.stream("GET", self.url) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        self.events.append((time.time(), json.loads(line[6:])))
                    if self.stop.is_set() or len(self.events) >= 2:
                        return


def wait(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_change_made_elsewhere_reaches_every_open_monitor(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app_builder.reports.live import hub_of
    from tests.e2e.conftest import serving

    redis_or_skip()
    monkeypatch.setenv("FICHA_REDIS_URL", REDIS)
    ficha = project.migrated(calls.copy_example(project.root))
    calls.load(ficha, 200)
    make_user(ficha)
    with ficha.storage.read() as conn:
        served = ficha.reader.list(
            conn, "call", where=[ficha.storage.table("call").c.outcome == "AGENT"], limit=1
        )[0]
    with serving(ficha) as site:
        cookie = session_cookie(ficha)
        viewers = [
            Viewer(f"{site.url}/monitors/call_centre_live/events", cookie) for _ in range(VIEWERS)
        ]
        for viewer in viewers:
            viewer.start()
        assert wait(lambda: all(v.events for v in viewers), 10)
        before = viewers[0].events[0][1]["tiles"]["abandoned"]["value"]
        env = {**os.environ, "PYTHONPATH": str(calls.REPO)}
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                textwrap.dedent(WRITER),
                str(ficha.settings.project_dir),
                str(served.id),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        committed = float(done.stdout.strip().splitlines()[-1])
        assert wait(lambda: all(len(v.events) >= 2 for v in viewers), 5)
        for viewer in viewers:
            at, payload = viewer.events[1]
            assert payload["tiles"]["abandoned"]["value"] == before + 1
            assert at - committed < 2.0
            assert str(served.call_id) == payload["lists"]["latest"]["rows"][0]["cells"][0]
        stream = next(iter(hub_of(ficha).streams.values()))
        assert stream.computations == 2  # once when opened, once for the change: not per viewer
        for viewer in viewers:
            viewer.stop.set()
