"""Knowledge base import (XLSX, CSV) and export: a file with any bad row imports nothing, and
every problem is named by sheet, row and column."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from callcenter.domain.errors import InvalidInput
from callcenter.domain.knowledge import EntryContent
from callcenter.storage.knowledge import EntryView

MAX_ROWS = 20_000
# column key, the header the export writes; the import also takes the key itself as header
COLUMNS: list[tuple[str, str]] = [
    ("id", "编号"),
    ("version", "版本"),
    ("status", "状态"),
    ("title", "标题"),
    ("answer", "答案"),
    ("department", "部门"),
    ("topic", "主题"),
    ("keywords", "关键词"),
    ("basis", "依据"),
    ("effective_from", "生效日期"),
    ("effective_until", "失效日期"),
    ("region", "区域"),
]
HEADERS = {header: key for key, header in COLUMNS} | {key: key for key, _ in COLUMNS}
REQUIRED = ("title", "answer", "department")
# what the content's own checks name (EntryContent.checked) -> the file's column
FIELD_COLUMN = {"answer_markdown": "answer"}
KEYWORD_SEPARATORS = str.maketrans({c: "," for c in "，;；、\n"})
# a cell a spreadsheet would run as a formula
FORMULA_START = ("=", "+", "-", "@")


@dataclass(frozen=True, slots=True)
class Problem:
    sheet: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.sheet}!{self.column}{self.row}: {self.message}"


class InvalidImport(InvalidInput):
    """The file has problems; nothing was imported."""

    def __init__(self, problems: list[Problem]) -> None:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} problem(s), nothing imported: {shown}{more}")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ImportRow:
    sheet: str
    row: int
    entry_id: int | None
    content: EntryContent


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    # the export's guard against formulas (see _safe)
    if text.startswith("'") and text[1:2] in FORMULA_START:
        text = text[1:]
    return text


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value).replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat(text)
    except ValueError:
        # 2026-3-1 as people type it
        parts = text.split("-")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            try:
                return date(int(parts[0]), int(parts[1]), int(parts[2]))
            except ValueError:
                pass
        raise InvalidInput(f"not a date (YYYY-MM-DD): {text!r}") from None


def parse(
    sheet: str,
    rows: Iterable[Sequence[Any]],
    departments: set[str],
    topics: set[str],
    may_import: Callable[[str], bool],
) -> tuple[list[ImportRow], list[Problem]]:
    """One sheet's rows (the first is the header) as entry contents, or what is wrong."""
    problems: list[Problem] = []
    parsed: list[ImportRow] = []
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None:
        return [], []
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = _text(cell).lower() if _text(cell).isascii() else _text(cell)
        if not name:
            continue
        key = HEADERS.get(name)
        if key is None:
            problems.append(
                Problem(sheet, 1, get_column_letter(index + 1), f"unknown column {name!r}")
            )
        elif key in columns:
            problems.append(Problem(sheet, 1, get_column_letter(index + 1), f"{name!r} twice"))
        else:
            columns[key] = index
    for key in REQUIRED:
        if key not in columns:
            problems.append(
                Problem(sheet, 1, "-", f"missing column {key!r} ({dict(COLUMNS)[key]})")
            )
    if problems:
        return [], problems

    for number, values in enumerate(iterator, start=2):
        if number > MAX_ROWS + 1:
            problems.append(Problem(sheet, number, "-", f"at most {MAX_ROWS} rows a file"))
            break
        if all(_text(v) == "" for v in values):
            continue
        row = _Row(sheet, number, values, columns)
        imported = row.parse(departments, topics, may_import)
        problems.extend(row.problems)
        if imported is not None:
            parsed.append(imported)
    return parsed, problems


class _Row:
    """One data row of a sheet, and what is wrong with it."""

    def __init__(
        self, sheet: str, number: int, values: Sequence[Any], columns: dict[str, int]
    ) -> None:
        self.sheet, self.number, self.values, self.columns = sheet, number, values, columns
        self.problems: list[Problem] = []

    def cell(self, key: str) -> Any:
        index = self.columns.get(key)
        return self.values[index] if index is not None and index < len(self.values) else None

    def bad(self, key: str, message: str) -> None:
        index = self.columns.get(key)
        column = f"{get_column_letter(index + 1)} ({key})" if index is not None else key
        self.problems.append(Problem(self.sheet, self.number, column, message))

    def parse(
        self, departments: set[str], topics: set[str], may_import: Callable[[str], bool]
    ) -> ImportRow | None:
        for key in REQUIRED:
            if not _text(self.cell(key)):
                self.bad(key, "must not be empty")
        dates: dict[str, date | None] = {}
        for key in ("effective_from", "effective_until"):
            try:
                dates[key] = _date(self.cell(key))
            except InvalidInput as err:
                self.bad(key, err.message)
        entry_id: int | None = None
        if _text(self.cell("id")):
            try:
                entry_id = int(_text(self.cell("id")))
            except ValueError:
                self.bad("id", f"not an entry number: {_text(self.cell('id'))!r}")
        department = _text(self.cell("department"))
        topic = _text(self.cell("topic")) or None
        if department and department not in departments:
            self.bad("department", f"{department} is not a known department")
        elif department and not may_import(department):
            self.bad("department", f"may not import entries of department {department}")
        if topic is not None and topic not in topics:
            self.bad("topic", f"{topic} is not a known topic")
        if self.problems:
            return None
        keywords = _text(self.cell("keywords")).translate(KEYWORD_SEPARATORS).split(",")
        try:
            content = EntryContent(
                title=_text(self.cell("title")),
                answer_markdown=_text(self.cell("answer")),
                department=department,
                topic=topic,
                keywords=tuple(k.strip() for k in keywords if k.strip()),
                basis=_text(self.cell("basis")) or None,
                effective_from=dates.get("effective_from"),
                effective_until=dates.get("effective_until"),
                region=_text(self.cell("region")) or None,
            ).checked()
        except InvalidInput as err:
            field, _, message = err.message.partition(": ")
            key = FIELD_COLUMN.get(field, field)
            self.bad(key if key in self.columns else "title", message or err.message)
            return None
        return ImportRow(self.sheet, self.number, entry_id, content)


def sheets(data: bytes, name: str) -> Iterator[tuple[str, list[Sequence[Any]]]]:
    """The file's sheets as rows of cell values: an XLSX workbook, or one CSV sheet."""
    if data[:2] == b"PK":
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
            raise InvalidInput(f"{name}: not a readable XLSX workbook ({err})") from err
        try:
            for sheet in book.worksheets:
                yield sheet.title, [tuple(row) for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
        return
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput(f"{name}: neither UTF-8 nor GB18030 text")
    if "\x00" in text:
        raise InvalidInput(f"{name}: contains NUL characters")
    reader = csv.reader(io.StringIO(text))
    try:
        rows: list[Sequence[Any]] = list(reader)
    except csv.Error as err:  # e.g. a field past the csv module's limit, an unclosed quote
        raise InvalidInput(f"{name}: not readable as CSV at line {reader.line_num}: {err}") from err
    yield name, rows


def _row(view: EntryView) -> list[Any]:
    entry, version = view.entry, view.version
    content = version.content
    return [
        entry.id,
        version.number,
        entry.status.value,
        content.title,
        content.answer_markdown,
        content.department,
        content.topic or "",
        "，".join(content.keywords),
        content.basis or "",
        content.effective_from.isoformat() if content.effective_from else "",
        content.effective_until.isoformat() if content.effective_until else "",
        content.region or "",
    ]


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export_csv(views: Iterable[EntryView]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([header for _, header in COLUMNS])
    for view in views:
        writer.writerow([_safe(v) for v in _row(view)])
    # with a BOM, so that spreadsheet programs read the Chinese as UTF-8
    return out.getvalue().encode("utf-8-sig")


def export_xlsx(views: Iterable[EntryView]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("知识库")
    sheet.append([header for _, header in COLUMNS])
    for view in views:
        cells = []
        for value in _row(view):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula stays text
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
