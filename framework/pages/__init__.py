"""Pages declared in YAML (pages/*.yaml of a pack or a project): the customer file,
boards, agendas and work queues. The specs are here; app_builder/pages renders them."""

from __future__ import annotations

from framework.pages.catalog import Pages, pages_of, read_pages

__all__ = ["Pages", "pages_of", "read_pages"]
