"""Ficha's own objects — users, teams, notifications, queued emails — declared in YAML
like any pack, so they get screens, links and expressions (`owner.team`) for free.

Always enabled; listed first so every pack may link to `user` and `team`.
"""

from __future__ import annotations

from pathlib import Path

from modeler.keys import SYSTEM_PACK
from modeler.schema import PackInfo
from plugins import hookimpl

PACK = PackInfo(
    name=SYSTEM_PACK,
    label="Administration",
    path=Path(__file__).parent,
    version="0.1.0",
    description="Users, teams, notifications and the email outbox.",
)


@hookimpl
def ficha_packs() -> list[PackInfo]:
    return [PACK]
