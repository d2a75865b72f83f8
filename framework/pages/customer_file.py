"""`kind: customer_file` in pages/*.yaml → a CustomerFile: how the customer is identified,
what its file shows (header, alerts, sections) and its quick actions, every name checked
against the model."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from framework.pages.read import MOMENTS, NUMBERS, PageChecker
from framework.pages.spec import (
    PLACES,
    READINGS,
    STYLES,
    Action,
    ActionField,
    Alerts,
    CustomerFile,
    Header,
    IdentifySource,
    PageLink,
    Relation,
    Section,
)
from modeler.fieldtypes import COLUMN, HAS_MANY, LINK
from modeler.loader import Node
from modeler.schema import FieldDef, ObjectDef

KEYS = (
    "kind",
    "label",
    "icon",
    "object",
    "identify",
    "search_in",
    "summary",
    "create",
    "header",
    "alerts",
    "sections",
    "actions",
)
SOURCE_KEYS = ("field", "read_as", "label", "label_field", "filter")
HEADER_KEYS = ("pretitle", "badges", "facts")
ALERT_KEYS = ("relation", "title", "message", "level", "levels", "segment", "filter")
SECTION_KEYS = (
    "label",
    "relation",
    "style",
    "place",
    "fields",
    "title",
    "time",
    "details",
    "badges",
    "states",
    "state_label",
    "filter",
    "sort",
    "limit",
    "page",
    "nested",
    "row_link",
    "page_link",
    "empty",
)
LINK_KEYS = ("page", "label", "icon")
ACTION_KEYS = ("label", "button", "done", "relation", "fields", "set")
ACTION_FIELD_KEYS = ("field", "label", "required", "placeholder", "factor", "options")
#: the reading a field's type gives what is typed
TYPE_READINGS = {"phone": "phone", "email": "email", "national_id": "national_id"}


def read_customer_file(
    name: str, doc: Node, pack: str, check: PageChecker, obj: ObjectDef, label: str, icon: str
) -> CustomerFile | None:
    if not check.mapping(doc, f"page '{name}'", KEYS):
        return None
    return CustomerFile(
        name,
        "customer_file",
        label,
        icon,
        obj.name,
        doc.pos,
        pack,
        identify=_identify(check, doc.get("identify"), obj),
        search_in=_search_in(check, doc.get("search_in"), obj),
        summary=check.field_names(doc.get("summary"), obj, "the summary of a match"),
        create=tuple(
            o.name
            for item in _items(doc.get("create"))
            if (o := check.find_object(item, "an object to create")) is not None
        )
        or (obj.name,),
        header=_header(check, doc.get("header"), obj),
        alerts=_alerts(check, doc.get("alerts"), obj),
        sections=_sections(check, doc.get("sections"), obj, "sections"),
        actions=_actions(check, doc.get("actions"), obj),
    )


def _items(node: Node | None) -> list[Node]:
    if node is None:
        return []
    return list(node) if node.is_list else [node]


def _named(check: PageChecker, node: Node | None, what: str) -> list[tuple[str, Node]]:
    if node is None:
        return []
    if not node.is_map:
        check.add("001", f"{what} must be a mapping of name → settings", node.pos)
        return []
    return list(node.items())


def _split(
    check: PageChecker, node: Node, obj: ObjectDef, what: str
) -> tuple[Relation | None, str] | None:
    """`contacts.phones.number` → (the relation contacts.phones, "number"); `phone` →
    (None, "phone"); None when the path is wrong (noted)."""
    text = check.text(node, what) or ""
    if "." not in text:
        return None, text
    path, _, field = text.rpartition(".")
    relation = check.relation(Node(path, node.pos), obj, what)
    return None if relation is None else (relation, field)


# -- identification ----------------------------------------------------------------------------


def _identify(check: PageChecker, node: Node | None, obj: ObjectDef) -> tuple[IdentifySource, ...]:
    found = []
    for item in _items(node):
        spec = item if item.is_map else None
        if spec is not None and not check.mapping(spec, "an identifier", SOURCE_KEYS):
            continue
        where = spec.get("field") if spec is not None else item
        if where is None:
            check.add("002", "an identifier needs field: (where it is stored)", item.pos)
            continue
        split = _split(check, where, obj, "an identifier")
        if split is None:
            continue
        relation, name = split
        target = check.model[relation.object] if relation is not None else obj
        f = check.field(where, target, "an identifier", kinds=(COLUMN,), name=name)
        if f is None:
            continue
        readings: tuple[str, ...] = (TYPE_READINGS.get(f.type, "code"),)
        label = f.label.lower()
        label_field = condition = None
        if spec is not None:
            given = spec.get("read_as")
            if given is not None:
                readings = tuple(
                    r
                    for r in check.names(given, "read_as")
                    if check.choice(given, r, READINGS, "reading")
                )
            label = check.text(spec.get("label"), "label") or label
            if spec.get("label_field") is not None:
                choice = check.field(spec.get("label_field"), target, "label_field")
                label_field = choice.name if choice is not None else None
            condition = check.expression(spec.get("filter"), target, "the filter")
        found.append(
            IdentifySource(relation, f.name, readings, label, label_field, condition, item.pos)
        )
    return tuple(found)


def _search_in(check: PageChecker, node: Node | None, obj: ObjectDef) -> tuple[Relation, ...]:
    found = []
    for item in _items(node):
        relation = check.relation(item, obj, "search_in")
        if relation is not None and len(relation.path) > 1:
            check.add(
                "004",
                f"search_in takes records linked straight to the {obj.label}",
                item.pos,
                "use one of its has_many fields",
            )
        elif relation is not None:
            found.append(relation)
    return tuple(found)


# -- what the file shows ----------------------------------------------------------------------


def _header(check: PageChecker, node: Node | None, obj: ObjectDef) -> Header:
    if node is None or not check.mapping(node, "header", HEADER_KEYS):
        return Header()
    pretitle = check.field(node.get("pretitle"), obj, "pretitle")
    return Header(
        pretitle.name if pretitle is not None else None,
        check.badges(node.get("badges"), obj, "the header"),
        check.field_names(node.get("facts"), obj, "facts"),
    )


def _alerts(check: PageChecker, node: Node | None, obj: ObjectDef) -> Alerts | None:
    if node is None or not check.mapping(node, "alerts", ALERT_KEYS):
        return None
    relation = check.relation(node.get("relation"), obj, "alerts")
    if relation is None:
        if node.get("relation") is None:
            check.add("002", "alerts need relation: (the customer's alerts)", node.pos)
        return None
    alert = check.model[relation.object]
    title = check.field(node.get("title") or Node(alert.title_field, node.pos), alert, "title")
    message = check.field(node.get("message"), alert, "message")
    level = check.field(node.get("level"), alert, "level")
    levels: list[tuple[str, str]] = []
    levels_node = node.get("levels")
    if levels_node is not None and level is not None:
        for code, color in _named(check, levels_node, "levels"):
            if check.choice(color, code, level.choice_codes, f"value of {level.name}"):
                levels.append((code, check.color(color)))
    segment = check.field(node.get("segment"), alert, "segment", types=("text", "string"))
    return Alerts(
        relation,
        title.name if title is not None else alert.title_field,
        message.name if message is not None else None,
        level.name if level is not None else None,
        tuple(levels),
        segment.name if segment is not None else None,
        check.expression(node.get("filter"), alert, "the filter of alerts"),
        node.pos,
    )


def _sections(
    check: PageChecker, node: Node | None, obj: ObjectDef, what: str, *, nested: bool = False
) -> tuple[Section, ...]:
    found = []
    for name, spec in _named(check, node, what):
        section = _section(check, name, spec, obj, nested)
        if section is not None:
            found.append(section)
    paged = [s for s in found if s.page_size]
    for extra in paged[1:]:
        check.add(
            "004",
            f"section '{extra.name}' is paged too: a file pages one list (page:)",
            extra.pos,
            f"'{paged[0].name}' is paged already; give this one limit: instead",
        )
    return tuple(found)


def _section(
    check: PageChecker, name: str, spec: Node, obj: ObjectDef, nested: bool
) -> Section | None:
    if not check.mapping(spec, f"section '{name}'", SECTION_KEYS):
        return None
    relation = None
    if spec.get("relation") is not None:
        relation = check.relation(spec.get("relation"), obj, f"section '{name}'")
        if relation is None:
            return None
    elif nested:
        check.add("002", f"'{name}' needs relation: (the row's related records)", spec.pos)
        return None
    target = check.model[relation.object] if relation is not None else obj
    style = check.text(spec.get("style"), "style") or ("facts" if relation is None else "table")
    if not check.choice(spec.get("style") or spec, style, STYLES, "section style"):
        style = "table"
    if relation is None and style != "facts":
        check.add(
            "004",
            f"section '{name}' shows the record's own fields, so its style is facts",
            (spec.get("style") or spec).pos,
            "give it relation: to list related records",
        )
    place = check.text(spec.get("place"), "place") or "main"
    if not check.choice(spec.get("place") or spec, place, PLACES, "place"):
        place = "main"
    fields = check.field_names(spec.get("fields"), target, f"the fields of '{name}'")
    title = check.field(spec.get("title"), target, "title")
    time = check.field(spec.get("time"), target, "time", types=(*MOMENTS, "date"))
    page_size = check.integer(spec.get("page"), "page (rows a page)", 1, 200) or 0
    limit = check.integer(spec.get("limit"), "limit", 1, 200) or page_size or 20
    states = check.badges(spec.get("states"), target, f"the states of '{name}'")
    for state in states:
        if state.field is not None:
            check.add("004", "a state is a label with a condition, not a field", spec.pos)
    if relation is None and (spec.get("sort") or spec.get("filter") or spec.get("page")):
        check.add(
            "004",
            f"section '{name}' shows one record: sort, filter and page need relation:",
            spec.pos,
        )
    if relation is not None and not fields and title is None and style != "list":
        check.add("002", f"section '{name}' needs fields: (what each row shows)", spec.pos)
    return Section(
        name=name,
        label=check.text(spec.get("label"), "label") or name.replace("_", " ").capitalize(),
        relation=relation,
        fields=fields,
        style=style,
        place=place,
        title=title.name if title is not None else None,
        time=time.name if time is not None else None,
        details=check.field_names(spec.get("details"), target, f"the details of '{name}'"),
        badges=check.badges(spec.get("badges"), target, f"the badges of '{name}'"),
        states=tuple(s for s in states if s.field is None),
        state_label=check.text(spec.get("state_label"), "state_label") or "State",
        filter=check.expression(spec.get("filter"), target, f"the filter of '{name}'"),
        sort=check.sort(spec.get("sort"), target),
        limit=limit,
        page_size=page_size,
        nested=_sections(check, spec.get("nested"), target, f"nested in '{name}'", nested=True)
        if spec.get("nested") is not None
        else (),
        row_link=_link(check, spec.get("row_link"), record=True),
        page_link=_link(check, spec.get("page_link")),
        empty=check.text(spec.get("empty"), "empty") or "Nothing yet.",
        pos=spec.pos,
    )


def _link(check: PageChecker, node: Node | None, *, record: bool = False) -> PageLink | None:
    """Another page, by its name (the file name); catalog.py checks it exists."""
    if node is None:
        return None
    if not node.is_map:
        page = check.text(node, "a page")
        return PageLink(page, record=record) if page else None
    if not check.mapping(node, "a link to a page", LINK_KEYS):
        return None
    page = check.text(node.get("page"), "page")
    if not page:
        check.add("002", "a link to a page needs page: (its file name)", node.pos)
        return None
    return PageLink(
        page,
        check.text(node.get("label"), "label") or "",
        check.text(node.get("icon"), "icon") or "",
        record,
    )


# -- quick actions ------------------------------------------------------------------------------


def _actions(check: PageChecker, node: Node | None, obj: ObjectDef) -> tuple[Action, ...]:
    found = []
    for name, spec in _named(check, node, "actions"):
        if not check.mapping(spec, f"action '{name}'", ACTION_KEYS):
            continue
        relation = check.relation(spec.get("relation"), obj, f"action '{name}'")
        if relation is None:
            if spec.get("relation") is None:
                check.add(
                    "002",
                    f"action '{name}' needs relation: (the kind of record it makes)",
                    spec.pos,
                )
            continue
        if len(relation.path) != 1:
            check.add(
                "004",
                f"action '{name}' makes records linked straight to the {obj.label}",
                spec.get("relation").pos,  # type: ignore[union-attr]
                "use one of its has_many fields",
            )
            continue
        target = check.model[relation.object]
        fields = tuple(
            f
            for item in _items(spec.get("fields"))
            if (f := _action_field(check, item, target, obj)) is not None
        )
        if not fields:
            check.add("002", f"action '{name}' needs fields: (what the form asks)", spec.pos)
            continue
        label = check.text(spec.get("label"), "label") or name.replace("_", " ").capitalize()
        found.append(
            Action(
                name,
                label,
                check.text(spec.get("button"), "button") or label,
                check.text(spec.get("done"), "done") or "Saved",
                relation,
                fields,
                _values(check, spec.get("set"), target, relation, {f.field for f in fields}),
                spec.pos,
            )
        )
    return tuple(found)


def _action_field(
    check: PageChecker, item: Node, target: ObjectDef, obj: ObjectDef
) -> ActionField | None:
    spec = item if item.is_map else None
    if spec is not None and not check.mapping(spec, "a field of a form", ACTION_FIELD_KEYS):
        return None
    f = check.field(spec.get("field") if spec is not None else item, target, "a form field")
    if f is None:
        if spec is not None and spec.get("field") is None:
            check.add("002", "a field of a form needs field:", item.pos)
        return None
    if f.formula is not None or f.read_only:
        check.add("004", f"'{f.name}' is computed or read-only: nobody types it", item.pos)
        return None
    if spec is None:
        return ActionField(f.name, f.label, f.required, options_from=_options_from(f, obj))
    factor: Decimal | None = None
    if spec.get("factor") is not None:
        try:
            factor = Decimal(str(spec.get("factor").value))  # type: ignore[union-attr]
        except InvalidOperation:
            factor = None
        if factor is None or f.type not in NUMBERS or factor <= 0:
            check.add(
                "004",
                "factor is a positive number, for a number field",
                spec.get("factor").pos,  # type: ignore[union-attr]
            )
            factor = None
    options = None
    if spec.get("options") is not None:
        if f.kind != LINK:
            check.add("004", "options: is a condition on a link's records", spec.get("options").pos)  # type: ignore[union-attr]
        else:
            options = check.expression(
                spec.get("options"), check.model[f.target or ""], "the options"
            )
    required = spec.get("required")
    return ActionField(
        f.name,
        check.text(spec.get("label"), "label") or f.label,
        bool(required.value) if required is not None else f.required,
        check.text(spec.get("placeholder"), "placeholder") or "",
        factor,
        options,
        _options_from(f, obj) if options is None else None,
    )


def _options_from(f: FieldDef, obj: ObjectDef) -> Relation | None:
    """A link to an object the customer has a list of (its contacts, its assets) offers
    that list; to anything else (a product), the records of that object."""
    if f.kind != LINK:
        return None
    lists = [g for g in obj.fields.values() if g.kind == HAS_MANY and g.target == f.target]
    if len(lists) != 1:
        return None
    return Relation((lists[0].name,), f.target or "", (lists[0].via or "",))


def _values(
    check: PageChecker, node: Node | None, target: ObjectDef, relation: Relation, asked: set[str]
) -> tuple[tuple[str, Any], ...]:
    """`set: {channel: phone, agent: =user.id}`: a value, or `=` and an expression."""
    found: list[tuple[str, Any]] = []
    for name, value in _named(check, node, "set"):
        f = check.field(value, target, "set", name=name)
        if f is None:
            continue
        if name in asked or name == relation.links[0]:
            check.add(
                "004",
                f"'{name}' is asked in the form or is the link to the customer: it is not set",
                value.key_pos or value.pos,
            )
            continue
        text = value.value
        if isinstance(text, str) and text.startswith("="):
            expression = check.expression(
                Node(text[1:], value.pos), target, f"the value of {name}", condition=False
            )
            if expression is not None:
                found.append((name, expression))
        elif value.is_map or value.is_list:
            check.add("004", f"the value of {name} must be one value", value.pos)
        else:
            found.append((name, text))
    return tuple(found)
