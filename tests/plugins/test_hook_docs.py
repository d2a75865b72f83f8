"""docs/plugins.md documents every hook with its exact signature, and every hook says when
it is called, what it gets, what it returns and how results are combined."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plugins import hookspecs

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def hooks() -> list[Callable[..., Any]]:
    return [
        fn
        for name, fn in vars(hookspecs).items()
        if callable(fn) and getattr(fn, "ficha_spec", None) is not None
    ]


def signature(fn: Callable[..., Any]) -> str:
    """`def name(arg: Type) -> Return` as written in hookspecs.py (annotations are text
    there: the module uses `from __future__ import annotations`)."""
    found = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in found.parameters.values())
    return f"def {fn.__name__}({params}) -> {found.return_annotation}"


def test_there_are_hooks_to_document() -> None:
    names = {fn.__name__ for fn in hooks()}
    assert {"ficha_packs", "ficha_field_types", "ficha_actions", "ficha_services"} <= names


@pytest.mark.parametrize("hook", hooks(), ids=lambda fn: fn.__name__)
def test_the_guide_documents_the_hook_with_its_signature(hook: Callable[..., Any]) -> None:
    text = GUIDE.read_text()
    assert f"#### `{hook.__name__}`" in text, f"docs/plugins.md has no section for {hook.__name__}"
    assert signature(hook) in text, (
        f"docs/plugins.md does not show the signature of {hook.__name__}: {signature(hook)}"
    )


@pytest.mark.parametrize("hook", hooks(), ids=lambda fn: fn.__name__)
def test_the_hook_says_when_what_it_gets_returns_and_how_results_combine(
    hook: Callable[..., Any],
) -> None:
    doc = inspect.getdoc(hook) or ""
    for part in ("When:", "Arguments:", "Returns:", "Results:"):
        assert f"\n{part} " in doc, f"{hook.__name__}'s docstring has no '{part}' line"
    assert "first-result" in doc, f"{hook.__name__}: say whether it is first-result"


def test_the_guide_names_no_hook_that_does_not_exist() -> None:
    documented = set(re.findall(r"^#### `(ficha_\w+)`", GUIDE.read_text(), re.MULTILINE))
    assert documented == {fn.__name__ for fn in hooks()}


def test_the_guide_links_the_legacy_wrappers_walk_through() -> None:
    assert "](legacy-wrappers.md)" in GUIDE.read_text()
