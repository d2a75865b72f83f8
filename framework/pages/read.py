"""Reading pages/*.yaml against the model: the declarations' shared checks (modeler's
Checker, ids V001-V007) plus the names a page uses — objects (V003), fields and relations
(V006), conditions (V010) — each at file:line:column with a did-you-mean."""

from __future__ import annotations

from collections.abc import Iterable

from framework.expressions import Expression, ExpressionError
from framework.pages.spec import COLORS, Badge, Relation
from modeler.declarations import Checker
from modeler.fieldtypes import COLUMN, HAS_MANY, LINK
from modeler.loader import Node
from modeler.problems import Problem, did_you_mean
from modeler.schema import SYSTEM_FIELDS, FieldDef, Model, ObjectDef
from storage.queries import Sort

BADGE_KEYS = ("field", "when", "label", "color", "name")
#: field types that read as a moment, a number
MOMENTS = ("datetime",)
NUMBERS = ("integer", "decimal", "money", "percent")


class PageChecker(Checker):
    """The shared checks, and the model's names."""

    def __init__(self, problems: list[Problem], model: Model) -> None:
        super().__init__(problems, "V")
        self.model = model

    # -- objects and fields ----------------------------------------------------------------

    def find_object(self, node: Node | None, what: str = "object") -> ObjectDef | None:
        name = self.text(node, what)
        if node is None or name is None:
            return None
        if name in self.model.objects:
            return self.model[name]
        self.add(
            "003",
            f"unknown object '{name}'",
            node.pos,
            did_you_mean(name, self.model.objects) or "objects are declared in objects/*.yaml",
        )
        return None

    def field(
        self,
        node: Node | None,
        obj: ObjectDef,
        what: str,
        *,
        kinds: Iterable[str] = (COLUMN, LINK),
        types: Iterable[str] = (),
        target: str | None = None,
        name: str | None = None,
    ) -> FieldDef | None:
        """The field `node` names (or `name`, written at `node`), of the right kind: one
        column or link by default; `types` narrows it to field types, `target` to links
        to one object."""
        if node is None:
            return None
        name = name if name is not None else self.text(node, what)
        if name is None:
            return None
        f = obj.fields.get(name)
        if f is None:
            hint = did_you_mean(name, obj.fields) or f"{obj.label} has: {_some(obj)}"
            self.add("006", f"{obj.label} has no field '{name}' ({what})", node.pos, hint)
            return None
        kinds, types = tuple(kinds), tuple(types)
        if f.kind not in kinds or (types and f.type not in types):
            self.add(
                "004",
                f"'{name}' is {_a(f.type)} field, and {what} must be {_either(types or kinds)}",
                node.pos,
                _of_type(obj, types, kinds),
            )
            return None
        if target is not None and f.target != target:
            self.add(
                "004",
                f"'{name}' links to {f.target}, and {what} must link to {target}",
                node.pos,
                _linking(obj, target),
            )
            return None
        return f

    def field_names(
        self,
        node: Node | None,
        obj: ObjectDef,
        what: str,
        *,
        kinds: Iterable[str] = (COLUMN, LINK),
        types: Iterable[str] = (),
    ) -> tuple[str, ...]:
        """A list of fields (or one written alone); the wrong ones are noted and left out."""
        if node is None:
            return ()
        items = list(node) if node.is_list else [node]
        found = []
        for item in items:
            f = self.field(item, obj, what, kinds=kinds, types=types)
            if f is not None:
                found.append(f.name)
        return tuple(found)

    def relation(self, node: Node | None, obj: ObjectDef, what: str) -> Relation | None:
        """`contacts.phones`: has_many fields in turn, from `obj`."""
        text = self.text(node, what)
        if node is None or not text:
            return None
        path, links = [], []
        here = obj
        for part in text.split("."):
            f = here.fields.get(part)
            if f is None or f.kind != HAS_MANY:
                many = [n for n, g in here.fields.items() if g.kind == HAS_MANY]
                self.add(
                    "006",
                    f"{here.label} has no list of related records '{part}' ({what})",
                    node.pos,
                    did_you_mean(part, many)
                    or (f"its has_many fields: {', '.join(many)}" if many else None),
                )
                return None
            target = self.model[f.target or ""]
            path.append(part)
            links.append(f.via or "")
            here = target
        return Relation(tuple(path), here.name, tuple(reversed(links)))

    def expression(
        self, node: Node | None, obj: ObjectDef, what: str, *, condition: bool = True
    ) -> Expression | None:
        text = self.text(node, what)
        if node is None or not text:
            return None
        try:
            return Expression.compile(text, self.model, obj.name, condition=condition)
        except ExpressionError as exc:
            self.add(
                "010",
                f"in {what} '{text}', character {exc.offset + 1}: {exc.message}",
                node.pos,
                exc.hint,
            )
            return None

    def sort(self, node: Node | None, obj: ObjectDef) -> tuple[Sort, ...]:
        """`[-due, name]`: fields, a - for descending."""
        found = []
        for item in (list(node) if node.is_list else [node]) if node is not None else []:
            text = self.text(item, "a sort key")
            if not text:
                continue
            name = text.lstrip("-+ ").strip()
            if name in SYSTEM_FIELDS or self.field(item, obj, "a sort key", name=name):
                found.append(Sort(name, text.startswith("-")))
        return tuple(found)

    def named(self, node: Node | None, what: str) -> list[tuple[str, Node]]:
        """A mapping of name → settings (sections, actions, set:)."""
        if node is None:
            return []
        if not node.is_map:
            self.add("001", f"{what} must be a mapping of name → settings", node.pos)
            return []
        return list(node.items())

    # -- badges ------------------------------------------------------------------------------

    def color(self, node: Node | None, default: str = "") -> str:
        text = self.text(node, "color")
        if node is None or text is None:
            return default
        return text if self.choice(node, text, COLORS, "color") else default

    def badges(self, node: Node | None, obj: ObjectDef, what: str) -> tuple[Badge, ...]:
        """Each a field (its value, when there is one) or {when, label, color}."""
        found: list[Badge] = []
        for item in (list(node) if node.is_list else [node]) if node is not None else []:
            if not item.is_map:
                f = self.field(item, obj, what)
                if f is not None:
                    found.append(Badge(field=f.name))
                continue
            if not self.mapping(item, f"a badge of {what}", BADGE_KEYS):
                continue
            field = self.field(item.get("field"), obj, what) if item.get("field") else None
            when = self.expression(item.get("when"), obj, f"the condition of a badge of {what}")
            label = self.text(item.get("label"), "label") or ""
            if field is None and item.get("field") is None and not label:
                self.add(
                    "002",
                    f"a badge of {what} needs field: (a value to show) or label: (a text)",
                    item.pos,
                    "e.g. {when: 'due < now()', label: late, color: red}",
                )
                continue
            if item.get("when") is not None and when is None:
                continue  # its condition was refused
            if item.get("field") is not None and field is None:
                continue
            found.append(
                Badge(
                    field.name if field is not None else None,
                    when,
                    label,
                    self.color(item.get("color")),
                    self.text(item.get("name"), "name") or _slug(label),
                )
            )
        return tuple(found)


def items(node: Node | None) -> list[Node]:
    """A list, or one item written alone."""
    if node is None:
        return []
    return list(node) if node.is_list else [node]


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _either(names: tuple[str, ...]) -> str:
    """The kinds or types wanted: a choice field, an integer, decimal … field."""
    text = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"{_a(text)} field"


def _slug(text: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _some(obj: ObjectDef) -> str:
    names = [n for n, f in obj.fields.items() if f.kind in (COLUMN, LINK)]
    return ", ".join(names[:12]) + (" …" if len(names) > 12 else "")


def _of_type(obj: ObjectDef, types: tuple[str, ...], kinds: tuple[str, ...]) -> str | None:
    fitting = [
        n
        for n, f in obj.fields.items()
        if f.kind in kinds and (not types or f.type in types) and n not in SYSTEM_FIELDS
    ]
    return f"{obj.label}'s fields that fit: {', '.join(fitting)}" if fitting else None


def _linking(obj: ObjectDef, target: str) -> str | None:
    fitting = [n for n, f in obj.fields.items() if f.kind == LINK and f.target == target]
    return f"{obj.label}'s links to {target}: {', '.join(fitting)}" if fitting else None
