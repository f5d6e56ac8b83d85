"""Report sections as files: an XLSX workbook (one sheet per section) and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from callcenter.domain.reports import Table

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
FORMATS = {"int": "#,##0", "percent": "0.00%", "seconds": "#,##0.0", "text": "@"}
_FORBIDDEN_IN_SHEET_NAME = str.maketrans({c: " " for c in "[]:*?/\\"})


def _sheet_name(title: str, taken: set[str]) -> str:
    name = title.translate(_FORBIDDEN_IN_SHEET_NAME)[:31] or "Sheet"
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name[:28]}({n})"
        n += 1
    taken.add(candidate)
    return candidate


def _safe(value: object) -> object:
    """A text cell never starts a formula (CSV/formula injection from citizens' words)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def workbook(tables: Sequence[Table]) -> bytes:
    book = Workbook()
    book.remove(book.active) if book.active is not None else None
    taken: set[str] = set()
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table.title, taken))
        sheet.append(list(table.headers))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = header_fill
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for row in table.rows:
            sheet.append([_safe(v) for v in row])
        sheet.freeze_panes = "A2"
        for column, header in enumerate(table.headers, 1):
            kind = table.kinds[column - 1] if column - 1 < len(table.kinds) else "text"
            letter = get_column_letter(column)
            widest = max([len(str(header)) * 2, *(len(str(r[column - 1])) for r in table.rows)])
            sheet.column_dimensions[letter].width = min(max(10, widest + 2), 60)
            if kind == "text":
                continue
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.number_format = FORMATS[kind]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(tables: Sequence[Table]) -> str:
    """UTF-8 with a byte-order mark (Excel reads the Chinese right); several sections are
    separated by a blank line and a title line."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    for n, table in enumerate(tables):
        if len(tables) > 1:
            if n:
                writer.writerow([])
            writer.writerow([f"# {table.title}"])
        writer.writerow(table.headers)
        for row in table.rows:
            writer.writerow(["" if v is None else _safe(v) for v in row])
    return out.getvalue()
