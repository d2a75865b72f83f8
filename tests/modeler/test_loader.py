"""YAML files → Nodes: a file's text is parsed once per process, and a changed file is
read as it now is."""

from __future__ import annotations

from pathlib import Path

from modeler.loader import load_yaml


def test_a_changed_file_is_read_again_and_callers_cannot_spoil_the_next_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "thing.yaml"
    path.write_text("object: thing\nfields:\n  name: string\n")
    docs, problems = load_yaml(path, tmp_path)
    assert docs[0].plain() == {"object": "thing", "fields": {"name": "string"}}
    problems.append("a caller's own note")  # type: ignore[arg-type]
    docs.clear()
    again, problems_again = load_yaml(path, tmp_path)
    assert again[0].plain()["object"] == "thing" and problems_again == []

    path.write_text("object: thing\nfields:\n  name: string\n  name: text\n")
    broken, problems = load_yaml(path, tmp_path)
    assert broken == [] and [p.code for p in problems] == ["M002"]
    path.write_text("object: other\n")
    assert load_yaml(path, tmp_path)[0][0].plain() == {"object": "other"}
