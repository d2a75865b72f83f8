"""Spreadsheet files read a row at a time: CSV (any delimiter, sniffed when not given)
and XLSX (openpyxl in read-only mode), so a file of a million rows is never held whole.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

XLSX_SUFFIXES = (".xlsx", ".xlsm")


class SourceError(ValueError):
    """The file cannot be read as a spreadsheet; the message says why."""


@dataclass
class Sheet:
    """The header and the data rows of a file; `position()` says how far reading got
    (bytes for CSV, rows for XLSX) out of `size`."""

    headers: list[str]
    rows: Iterator[tuple[int, list[Any]]]  # (row number as the user sees it, cells)
    size: int = 0
    position: Any = field(default=lambda: 0)
    closer: Any = field(default=lambda: None)
    #: every cell is text (a CSV's are; a workbook's may be numbers and dates)
    text: bool = False

    def close(self) -> None:
        """Let go of the file (reading to the end does it too)."""
        close = getattr(self.rows, "close", None)
        if close is not None:
            close()
        self.closer()


def open_sheet(
    path: Path,
    *,
    delimiter: str | None = None,
    sheet: str | None = None,
    encoding: str = "utf-8-sig",
) -> Sheet:
    if path.suffix.lower() in XLSX_SUFFIXES:
        return _xlsx(path, sheet)
    if path.suffix.lower() == ".xls":
        raise SourceError("old .xls files are not read; save the file as .xlsx or .csv")
    return _csv(path, delimiter, encoding)


def _csv(path: Path, delimiter: str | None, encoding: str) -> Sheet:
    try:
        handle: IO[str] = path.open(newline="", encoding=encoding)
        sample = handle.read(65536)
    except UnicodeDecodeError:
        handle = path.open(newline="", encoding="latin-1")  # what spreadsheets often save
        sample = handle.read(65536)
    except OSError as exc:
        raise SourceError(f"cannot read {path.name}: {exc.strerror}") from exc
    handle.seek(0)
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        headers = [h.strip() for h in next(reader)]
    except StopIteration:
        handle.close()
        raise SourceError(f"{path.name} is empty: it needs a header row") from None
    _check_headers(headers)
    size = path.stat().st_size
    raw = handle.buffer if hasattr(handle, "buffer") else None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for number, cells in enumerate(reader, start=2):
                if not "".join(cells).strip():
                    continue  # blank lines between rows
                yield number, cells
        finally:
            handle.close()

    def position() -> int:
        try:
            return raw.tell() if raw is not None and not raw.closed else size
        except (OSError, ValueError):
            return size

    return Sheet(headers, rows(), size, position, handle.close, text=True)


def _xlsx(path: Path, sheet: str | None) -> Sheet:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise SourceError(f"{path.name} is not a readable .xlsx file ({exc})") from exc
    if sheet is not None and sheet not in book.sheetnames:
        book.close()
        raise SourceError(
            f"{path.name} has no sheet '{sheet}' (sheets: {', '.join(book.sheetnames)})"
        )
    ws = book[sheet] if sheet else book.worksheets[0]
    it = ws.iter_rows(values_only=True)
    try:
        first = next(it)
    except StopIteration:
        book.close()
        raise SourceError(f"{path.name} is empty: it needs a header row") from None
    headers = [("" if h is None else str(h)).strip() for h in first]
    while headers and not headers[-1]:
        headers.pop()
    _check_headers(headers)
    total = ws.max_row or 0
    done = [1]

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for number, cells in enumerate(it, start=2):
                done[0] = number
                values = ["" if c is None else c for c in cells[: len(headers)]]
                if not any(v != "" for v in values):
                    continue
                yield number, values
        finally:
            book.close()

    return Sheet(headers, rows(), total, lambda: done[0], book.close)


def _check_headers(headers: list[str]) -> None:
    seen: set[str] = set()
    for h in headers:
        if h in seen and h:
            raise SourceError(f"the column '{h}' appears twice in the header row")
        seen.add(h)


def sniff_text(data: bytes) -> str:
    """The first lines of an uploaded CSV as text (for the import screen's preview)."""
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return io.BytesIO(data).read().decode("latin-1", errors="replace")
