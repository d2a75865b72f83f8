"""A board declared by a project in YAML, on an object without a workflow: one column per
value of a choice field, at most the declared cards in each, "Only mine" on the declared
link to the user, and a card may go to any column."""

from __future__ import annotations

import html
import re
from typing import Any

from starlette.testclient import TestClient

from app_builder.security import COOKIE
from framework.app import create_app
from tests.conftest import make_user, session_cookie
from tests.pages.test_checks import OBJECTS, write

BOARD = """\
kind: board
label: Jobs
object: job
columns: status
card: [client, hours]
sort: [title]
sum: hours
mine: worker
filter: hours is null or hours < 100
limits: {done: 2}
"""


def cards(page: str, column: str) -> list[str]:
    part = page.split(f'data-state="{column}"', 1)[1].split('<section class="ficha-column"')[0]
    return [html.unescape(t) for t in re.findall(r'data-title="([^"]+)"', part)]


def test_a_projects_board_shows_limits_and_moves_freely(sqlite_project: Any) -> None:
    root = sqlite_project.write(OBJECTS)
    write(root, "jobs", BOARD)
    ficha = sqlite_project.migrated()
    me = make_user(ficha)
    other = make_user(ficha, "eva", name="Eva")
    create = ficha.records.create
    for k in range(3):
        create("job", {"title": f"Done {k}", "status": "done", "hours": "2", "worker": me.id})
    mine = create("job", {"title": "Mine", "worker": me.id, "hours": "1.5"})
    create("job", {"title": "Eva's", "worker": other.id})
    create("job", {"title": "Too big", "hours": "400"})  # left out by the board's filter
    client = TestClient(create_app(ficha.settings, ficha=ficha))
    client.cookies.set(COOKIE, session_cookie(ficha))
    page = client.get("/admin/jobs").text
    assert cards(page, "done") == ["Done 0", "Done 1"]
    assert "and 1 more" in page
    assert cards(page, "todo") == ["Eva's", "Mine"]
    assert "Too big" not in page
    only_mine = client.get("/admin/jobs", params={"mine": "1"}).text
    assert cards(only_mine, "todo") == ["Mine"]
    token = client.cookies.get("starlette_admin_csrftoken") or ""
    moved = client.post(
        "/admin/jobs/move",
        json={"id": mine.id, "to": "done", "version": mine["version"]},
        headers={"X-CSRFToken": token},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["allowed"] == []  # no workflow: every column is open to it
    assert ficha.records.get("job", mine.id)["status"] == "done"
