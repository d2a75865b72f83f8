"""The modeler turns YAML into an immutable model, or says precisely what is wrong."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from modeler.build import Source, build_model
from modeler.problems import ModelError
from modeler.schema import PackInfo
from tests.samples import SHOP


def write(root: Path, files: dict[str, str]) -> list[Source]:
    (root / "objects").mkdir(parents=True, exist_ok=True)
    sources = []
    for name, text in files.items():
        path = root / "objects" / f"{name}.yaml"
        path.write_text(textwrap.dedent(text))
        sources.append(Source(path, "project", root))
    return sources


def problems_of(root: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(ModelError) as info:
        build_model(write(root, files))
    return [str(p) for p in info.value.problems]


def test_the_shop_builds_into_a_frozen_model(tmp_path: Path) -> None:
    model = build_model(write(tmp_path, SHOP))
    assert set(model.objects) == {"customer", "product", "order"}
    customer = model["customer"]
    assert customer.title_field == "name"
    assert customer.plural == "Customers"
    assert customer.fields["orders"].via == "customer"  # found: the one link back
    assert customer.fields["segment"].choice_label("ent") == "Enterprise"
    assert customer.list.columns == ("name", "email", "segment", "active")
    assert customer.search_fields == ("name", "email")
    order = model["order"]
    assert order.title_field == "number"
    assert order.fields["customer"].target == "customer"
    assert [s.title for s in order.form.sections] == ["Details"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        customer.label = "Client"  # type: ignore[misc]
    with pytest.raises(TypeError):
        customer.fields["x"] = customer.fields["name"]  # type: ignore[index]


def test_a_typo_is_reported_with_file_line_column_and_a_suggestion(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        {
            "customer": """
        object: customer
        fields:
          name: {type: strng}
        """
        },
    )
    assert found == [
        "objects/customer.yaml:4:16: unknown field type 'strng' (did you mean 'string'?) [M020]"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        {
            "order": """
        object: order
        fields:
          customer: {type: link, object: custmer}
          amount: {type: decimal, default: abc}
          qty: {type: integer, max_lenght: 5}
          class: string
          state: {type: choice, values: [a, b], default: c}
        list:
          columns: [amout]
        form:
          - section: Main
            fields: [qty, qty]
        """
        },
    )
    assert found == [
        "objects/order.yaml:4:34: 'order.customer' points to unknown object 'custmer' "
        "(known objects: order) [M021]",
        "objects/order.yaml:5:36: default of 'amount' does not fit its type: 'abc' is not a "
        "number [M030]",
        "objects/order.yaml:6:24: unknown key 'max_lenght' in field 'qty' (did you mean "
        "'max_length'?) [M010]",
        "objects/order.yaml:7:3: 'class' is a reserved word and cannot name a field (it is a "
        "word of the expression language or of Python; try 'order_class') [M023]",
        "objects/order.yaml:8:50: default of 'state' does not fit its type: 'c' is not one "
        "of: a, b (use one of: a, b) [M030]",
        "objects/order.yaml:10:13: list columns of order names unknown field 'amout' (did you "
        "mean 'amount'?) [M040]",
        "objects/order.yaml:13:19: 'qty' is placed twice in the form of order (section "
        "'Main') (keep it in one section) [M042]",
    ]


@pytest.mark.parametrize(
    ("yaml", "code", "fragment"),
    [
        ("object: a\nfields:\n  id: string\n", "M023", "'id' is a reserved word"),
        ("object: a\nfields:\n  Name: string\n", "M024", "'Name' is not a valid field name"),
        ("object: ficha_x\n", "M023", "reserved for Ficha's own tables"),
        ("fields: {}\n", "M011", "does not say which object"),
        (
            "object: a\nfields:\n  n: {type: integer, min: 5, max: 1}\n",
            "M032",
            "min (5) is greater than max (1)",
        ),
        (
            "object: a\nfields:\n  n: {type: integer, max_length: 3}\n",
            "M031",
            "max_length does not apply",
        ),
        (
            "object: a\nfields:\n  n: {type: string, values: [x]}\n",
            "M031",
            "'values' does not apply to a string field",
        ),
        ("object: a\nfields:\n  n: {type: choice}\n", "M033", "has no values"),
        (
            "object: a\nfields:\n  n: {type: autonumber, format: 'X-{YYYY}'}\n",
            "M034",
            "needs a format with a counter",
        ),
        (
            "object: a\nfields:\n  n: {type: string, pattern: '(['}\n",
            "M032",
            "not a valid regular expression",
        ),
        (
            "object: a\nfields:\n  n: {type: integer, search: true}\n",
            "M044",
            "cannot be full-text searched",
        ),
        (
            "object: a\nfields:\n  n: {type: boolean, required: maybe}\n",
            "M012",
            "must be true or false",
        ),
        ("object: a\ntitle: nme\nfields:\n  name: string\n", "M041", "did you mean 'name'"),
        (
            "object: a\nfields:\n  kids: {type: has_many, object: a}\n",
            "M043",
            "needs a link from a back to a",
        ),
        ("object: a\nindexes: [[nope]]\nfields:\n  n: string\n", "M052", "unknown field 'nope'"),
        (
            "object: a\nfields:\n  l: {type: link, object: a, on_delete: explode}\n",
            "M032",
            "on_delete must be one of",
        ),
        ("object: a\nfields: [name]\n", "M012", "fields must be a mapping"),
        ("object: a\nlist: {page_size: 5000}\n", "M045", "page_size must be at most 500"),
        ("object: a\nfield:\n  n: string\n", "M010", "did you mean 'fields'"),
    ],
)
def test_each_check_has_a_stable_id(tmp_path: Path, yaml: str, code: str, fragment: str) -> None:
    found = problems_of(tmp_path, {"a": yaml})
    assert any(f"[{code}]" in p and fragment in p for p in found), found


def test_yaml_syntax_errors_point_at_the_line(tmp_path: Path) -> None:
    found = problems_of(tmp_path, {"a": "object: a\nfields:\n  name: string\n   bad: x: y\n"})
    assert len(found) == 1
    assert found[0].startswith("objects/a.yaml:4:7: YAML syntax error")
    assert "[M001]" in found[0]


def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    found = problems_of(tmp_path, {"a": "object: a\nfields:\n  n: string\n  n: integer\n"})
    assert len(found) == 1 and "[M002]" in found[0] and found[0].startswith("objects/a.yaml:4")


def test_the_same_object_in_two_files_is_refused(tmp_path: Path) -> None:
    found = problems_of(tmp_path, {"a": "object: a\n", "b": "object: a\n"})
    assert any("declared twice" in p and "extends: a" in p for p in found)


def test_shorthand_values_and_defaults(tmp_path: Path) -> None:
    model = build_model(
        write(
            tmp_path,
            {
                "a": """
        object: task
        fields:
          title: string
          state: {type: choice, values: [to_do, done]}
          level:
            type: choice
            values:
              - {code: low, label: Low, color: green}
              - high
        """
            },
        )
    )
    task = model["task"]
    assert task.fields["title"].type == "string"
    assert task.fields["state"].choice_label("to_do") == "To do"
    assert [(v.code, v.label, v.color) for v in task.fields["level"].values] == [
        ("low", "Low", "green"),
        ("high", "High", None),
    ]
    assert task.title_field == "title"
    assert task.list.sort == (("id", True),)


def test_a_pack_extends_another_packs_object_without_copying_it(tmp_path: Path) -> None:
    core = tmp_path / "core"
    bank = tmp_path / "bank"
    sources = write(
        core,
        {
            "account": """
        object: account
        fields:
          name: {type: string, required: true}
          segment: {type: choice, values: [retail]}
        form:
          - section: Main
            fields: [name, segment]
        """
        },
    )
    sources = [dataclasses.replace(s, pack="core") for s in sources]
    sources += [
        dataclasses.replace(s, pack="bank")
        for s in write(
            bank,
            {
                "ext": """
        extends: account
        label: Client
        fields:
          kyc_status: {type: choice, values: [pending, verified], default: pending}
          name: {label: Legal name}
          segment: {values: [private_banking]}
        form:
          - section: Main
            fields: [kyc_status]
          - section: Compliance
            fields: []
        """
            },
        )
    ]
    model = build_model(sources, packs=[PackInfo("core", "Core"), PackInfo("bank", "Bank")])
    account = model["account"]
    assert account.label == "Client"
    assert account.fields["name"].label == "Legal name"
    assert account.fields["name"].pack == "core"
    assert account.fields["kyc_status"].pack == "bank"
    assert account.fields["segment"].choice_codes == ("retail", "private_banking")
    assert account.form.sections[0].fields == ("name", "segment", "kyc_status")


def test_an_extension_may_not_redeclare_a_field(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        {"a": "object: a\nfields:\n  n: string\n", "b": "extends: a\nfields:\n  n: integer\n"},
    )
    assert any("[M051]" in p and "already declared" in p for p in found)


def test_a_default_given_by_an_extension_is_checked_where_it_is_written(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        {
            "a": "object: a\nfields:\n  since: date\n",
            "b": "extends: a\nfields:\n  since: {default: soon}\n",
        },
    )
    assert any("b.yaml:3:20" in p and "[M030]" in p and "'soon' is not a date" in p for p in found)


def test_yaml_merge_keys_share_field_settings(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        {
            "a": "object: a\nfields:\n  name: &txt {type: string, max_length: 80}\n"
            "  code:\n    <<: *txt\n    required: true\n  other: {<<: *txt, typo: 1}\n"
        },
    )
    assert found and all("[M010]" in p and "'typo'" in p for p in found)


def test_extending_an_unknown_object_suggests_the_right_one(tmp_path: Path) -> None:
    found = problems_of(tmp_path, {"a": "object: account\n", "b": "extends: acount\n"})
    assert any("[M050]" in p and "did you mean 'account'" in p for p in found)


REPORTED = """\
object: deal
fields:
  stage: {type: choice, values: [open, won]}
  amount: money
  closed: date
  notes: text
indexes:
{entries}
"""


def test_an_index_can_hold_more_values_and_only_the_live_records(tmp_path: Path) -> None:
    entries = "  - {fields: [closed, stage], include: [amount], live: true}\n  - [stage]"
    model = build_model(write(tmp_path, {"deal": REPORTED.replace("{entries}", entries)}))
    served, plain = model["deal"].indexes
    assert (served.fields, served.include, served.live) == (("closed", "stage"), ("amount",), True)
    assert served.columns == ("closed", "stage", "amount")
    assert (plain.include, plain.live) == ((), False)


@pytest.mark.parametrize(
    ("entries", "where", "fragment"),
    [
        (
            "  - {fields: [closed], include: [amout]}",
            "8:34",  # at the name, not at the entry
            "index of deal names unknown field 'amout' (did you mean 'amount'?)",
        ),
        ("  - {fields: [closed], include: [notes]}", "8:34", "'notes' is a text and cannot"),
        ("  - {fields: [closed], include: [closed]}", "8:34", "both a field and in include:"),
        ("  - {fields: [closed], inclde: [amount]}", "8:24", "did you mean 'include'?"),
        ("  - {fields: [closed], live: yes please}", "8:30", "live must be true or false"),
    ],
)
def test_what_an_index_holds_is_checked_where_it_is_written(
    tmp_path: Path, entries: str, where: str, fragment: str
) -> None:
    found = problems_of(tmp_path, {"deal": REPORTED.replace("{entries}", entries)})
    assert len(found) == 1, found
    assert found[0].startswith(f"objects/deal.yaml:{where}:") and fragment in found[0], found


@pytest.mark.parametrize(
    ("entry", "fragment", "hint"),
    [
        ("{fields: [stage], include: [amount]}", "cannot include other fields", "second index"),
        ("{fields: [stage], live: true}", "cannot leave the deleted records out", "leave live"),
    ],
)
def test_a_unique_index_holds_nothing_else_and_every_record(
    tmp_path: Path, entry: str, fragment: str, hint: str
) -> None:
    text = REPORTED.replace("{entries}", "  - [closed]") + f"unique:\n  - {entry}\n"
    found = problems_of(tmp_path, {"deal": text})
    assert len(found) == 1 and "[M052]" in found[0] and fragment in found[0], found
    assert found[0].startswith("objects/deal.yaml:10:5:") and hint in found[0], found
