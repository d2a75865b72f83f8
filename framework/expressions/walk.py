"""What a compiled expression reads: the fields (through links and aggregates) and the
report parameters it uses — for permissions (a hidden field) and for reading only the
columns a condition needs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from framework.expressions import binding as b

if TYPE_CHECKING:
    from framework.expressions import Expression


def _walk(node: Any) -> Iterator[b.Bound]:
    if isinstance(node, b.Bound):
        yield node
        for f in dataclasses.fields(node):
            yield from _walk(getattr(node, f.name))
    elif isinstance(node, tuple):
        for item in node:
            yield from _walk(item)


def fields_read(expression: Expression) -> set[tuple[str, str]]:
    """(object, field) pairs: every field the expression reads, and the links it follows."""
    found: set[tuple[str, str]] = set()
    for node in _walk(expression.bound):
        if isinstance(node, b.BField):
            for obj, link in zip(node.objects, node.links, strict=False):
                found.add((obj, link.name))
            found.add((node.objects[-1], node.name))
        elif isinstance(node, b.BAggregate):
            found.add((node.object, node.relation.name))
    return found


def params_used(expression: Expression) -> frozenset[str]:
    return frozenset(n.name for n in _walk(expression.bound) if isinstance(n, b.BParam))
