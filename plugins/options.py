"""Command-line options shared by Ficha's commands and the commands plugins contribute."""

from __future__ import annotations

import os
from pathlib import Path

import click

#: `--project / -p`: the project folder, by default $FICHA_PROJECT or the current folder
project_option = click.option(
    "--project",
    "-p",
    "project",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("FICHA_PROJECT", "."),
    show_default="current folder",
    help="The project folder (the one holding ficha.yaml).",
)
