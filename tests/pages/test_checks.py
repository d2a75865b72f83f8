"""pages/*.yaml is checked at load like objects: a stable id (V…), file:line:column and a
did-you-mean; `ficha check` lists the problems, and a project's page replaces a pack's."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import cli
from modeler.problems import ModelError

CLIENT = """
object: client
title: name
fields:
  name: {type: string, search: true}
  phone: {type: phone, index: true}
  tier: {type: choice, values: {gold: Gold, silver: Silver}}
  owner: {type: link, object: user}
  jobs: {type: has_many, object: job}
  people: {type: has_many, object: person}
"""
PERSON = """
object: person
title: full_name
fields:
  full_name: string
  client: {type: link, object: client}
  notes: {type: has_many, object: note}
"""
NOTE = """
object: note
fields:
  text: string
  person: {type: link, object: person}
"""
JOB = """
object: job
title: title
fields:
  title: {type: string, required: true}
  client: {type: link, object: client}
  status: {type: choice, values: {todo: To do, doing: Doing, done: Done}, default: todo}
  hours: decimal
  due: datetime
  worker: {type: link, object: user}
  client_name: {type: string, formula: 'client.name'}
"""
OBJECTS = {"client": CLIENT, "person": PERSON, "note": NOTE, "job": JOB}
FILE = "kind: customer_file\nobject: client\n"


def write(root: Path, name: str, text: str) -> None:
    (root / "pages").mkdir(parents=True, exist_ok=True)
    (root / "pages" / f"{name}.yaml").write_text(textwrap.dedent(text))


def problems(project: Any, pages: dict[str, str]) -> list[str]:
    root = project.write(OBJECTS)
    for name, text in pages.items():
        write(root, name, text)
    with pytest.raises(ModelError) as caught:
        project.load()
    return [str(p) for p in caught.value.problems]


def test_a_misspelt_card_field_is_named_with_its_position_and_a_suggestion(
    sqlite_project: Any,
) -> None:
    found = problems(
        sqlite_project,
        {
            "jobs": "kind: board\nobject: job\ncolumns: status\n"
            "card: [client, hours, worker, duee]\n"
        },
    )
    assert found == [
        "pages/jobs.yaml:4:31: Job has no field 'duee' (a card's field) "
        "(did you mean 'due'?) [V006]"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "kind: bord\nobject: job\n",
            "'bord' is not a kind of page (did you mean 'board'?) [V005]",
        ),
        (
            "object: job\n",
            "page 'p' needs kind: (customer_file, board, agenda, work_queues) [V002]",
        ),
        (
            "kind: board\nobject: jobs\ncolumns: status\n",
            "unknown object 'jobs' (did you mean 'job'?) [V003]",
        ),
        (
            "kind: board\nobject: job\n",
            "board 'p' needs columns: (a choice field: a column per value)",
        ),
        (
            "kind: board\nobject: job\ncolumns: hours\n",
            "'hours' is a decimal field, and columns must be a choice field",
        ),
        (
            "kind: board\nobject: job\ncolumns: status\ncolums: x\n",
            "unknown key 'colums' in board 'p' (did you mean 'columns'?) [V001]",
        ),
        (
            "kind: board\nobject: job\ncolumns: status\nsum: title\n",
            "sum must be an integer, decimal, money or percent field",
        ),
        (
            "kind: board\nobject: job\ncolumns: status\nmine: client\n",
            "'client' links to client, and mine must link to user",
        ),
        (
            "kind: board\nobject: job\ncolumns: status\nlimits: {dne: 5}\n",
            "'dne' is not a value of status (did you mean 'done'?) [V005]",
        ),
        (
            "kind: board\nobject: job\ncolumns: status\nfilter: stats == 'x'\n",
            "in the filter 'stats == 'x'', character 1: Job has no field 'stats'",
        ),
        (
            "kind: agenda\nobject: job\nwho: worker\n",
            "the agenda needs when: (Job's fields that fit: due) [V002]",
        ),
        (
            "kind: agenda\nobject: job\nwhen: due\nwho: worker\nplan_from: {object: clent}\n",
            "unknown object 'clent' (did you mean 'client'?)",
        ),
        (
            "kind: agenda\nobject: job\nwhen: due\nwho: worker\n"
            "badge: status\noffer: [todo, don]\n",
            "'don' is not a value of status (did you mean 'done'?)",
        ),
    ],
)
def test_each_board_and_agenda_problem_has_its_id_and_hint(
    sqlite_project: Any, text: str, expected: str
) -> None:
    found = problems(sqlite_project, {"p": text})
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("identify: [people.phon]\n", "Person has no field 'phon' (an identifier)"),
        (
            "identify: [peple.full_name]\n",
            "Client has no list of related records 'peple' (an identifier) "
            "(did you mean 'people'?) [V006]",
        ),
        (
            "identify: [{field: phone, read_as: [fone]}]\n",
            "'fone' is not a reading (did you mean 'phone'?) [V005]",
        ),
        ("search_in: [people.notes]\n", "search_in takes records linked straight to the Client"),
        (
            "sections:\n  j: {relation: jobs, fields: [title], style: grid}\n",
            "'grid' is not a section style",
        ),
        (
            "sections:\n  j: {relation: jobs, fields: [title], filter: 'hours >'}\n",
            "in the filter of 'j' 'hours >', character",
        ),
        (
            "sections:\n  j: {relation: jobs, fields: [title], page: 5}\n"
            "  k: {relation: jobs, fields: [title], page: 5}\n",
            "section 'k' is paged too",
        ),
        (
            "sections:\n  j: {relation: jobs, fields: [title], badges: [{when: 'hours > 8'}]}\n",
            "a badge of the badges of 'j' needs field: (a value to show) or label: (a text)",
        ),
        (
            "sections:\n  j: {relation: jobs, fields: [title], row_link: agenda}\n",
            "unknown page 'agenda' (pages are the files in pages/) [V006]",
        ),
        (
            "sections:\n  j: {relation: jobs, fields: [title], page_link: bord}\n",
            "unknown page 'bord' (did you mean 'board'?)",
        ),
        (
            "actions:\n  a: {relation: people.notes, fields: [text]}\n",
            "action 'a' makes records linked straight to the Client",
        ),
        (
            "actions:\n  a: {relation: jobs, fields: [client_name]}\n",
            "'client_name' is computed or read-only: nobody types it",
        ),
        (
            "actions:\n  a: {relation: jobs, fields: [title], set: {title: x}}\n",
            "'title' is asked in the form or is the link to the customer",
        ),
        (
            "actions:\n  a: {relation: jobs, fields: [title], set: {worker: '=user.idd'}}\n",
            "in the value of worker 'user.idd'",
        ),
        (
            "actions:\n  a: {relation: jobs, fields: [{field: title, factor: 60}]}\n",
            "factor is a positive number, for a number field",
        ),
    ],
)
def test_each_customer_file_problem_has_its_id_and_hint(
    sqlite_project: Any, text: str, expected: str
) -> None:
    board = "kind: board\nobject: job\ncolumns: status\n"
    found = problems(sqlite_project, {"file": FILE + text, "board": board})
    assert any(expected in p for p in found), found


def test_a_row_opens_only_an_agenda_that_plans_from_its_records(sqlite_project: Any) -> None:
    agenda = "kind: agenda\nobject: job\nwhen: due\nwho: worker\nplan_from: {object: client}\n"
    text = "sections:\n  people: {relation: people, fields: [full_name], row_link: agenda}\n"
    found = problems(sqlite_project, {"file": FILE + text, "agenda": agenda})
    assert any(
        p.startswith("pages/file.yaml:4:11: page 'agenda' cannot be opened from a row of person")
        for p in found
    ), found


def test_one_customer_file_opens_from_the_header(sqlite_project: Any) -> None:
    found = problems(sqlite_project, {"a": FILE, "b": FILE})
    assert any("a second customer file 'b'" in p and p.endswith("[V007]") for p in found)


def test_ficha_check_lists_page_problems(sqlite_project: Any) -> None:
    root = sqlite_project.write(OBJECTS)
    write(root, "jobs", "kind: board\nobject: job\ncolumns: stauts\n")
    result = CliRunner().invoke(cli, ["check", "--project", str(root)])
    assert result.exit_code == 1
    assert "pages/jobs.yaml:3:10" in result.output
    assert "did you mean 'status'?" in result.output and "V006" in result.output


def test_a_project_page_replaces_the_packs_page_of_the_same_name(sqlite_project: Any) -> None:
    from framework.pages import pages_of

    root = sqlite_project.write({}, packs=("core",))
    pack = pages_of(sqlite_project.load())
    assert pack.pages["pipeline"].label == "Pipeline"
    write(root, "pipeline", "kind: board\nlabel: Deals\nobject: opportunity\ncolumns: stage\n")
    own = pages_of(sqlite_project.load())
    assert own.pages["pipeline"].label == "Deals"
    assert own.pages["pipeline"].pack == "project"
    assert set(own.pages) == set(pack.pages)  # the pack's other pages stay
