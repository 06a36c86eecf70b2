"""The back-office file: registrations as XLSX or CSV, with the Department's headers.

One row per registration; column headers and statuses come from the catalogs (so they
read "Quận/huyện", "Làng nghề", ... in Vietnamese), dates are real dates (Excel sorts and
filters them), phone numbers stay text (their leading 0 is kept). XLSX has a frozen
header row, an autofilter and column widths fitted to the content; CSV is UTF-8 with a
BOM, which is how Excel knows to read Vietnamese letters correctly.

`registration_json` is the same record for machines (the outbound webhook).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from bot.clock import ZONE
from storage.models import Registration

if TYPE_CHECKING:
    from bot.i18n import Translator
    from bot.plan import Plan

Format = Literal["xlsx", "csv"]
Cell = str | int | date | None

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"
MIME = {"xlsx": XLSX_MIME, "csv": CSV_MIME}

COLUMNS = (
    "unit", "village", "craft", "decision", "representative", "contact", "phone", "items",
    "prior_years", "status", "code", "submitted", "forwarded",
)  # fmt: skip
_MIN_WIDTH, _MAX_WIDTH = 8, 48
_EXCEL_DATE = "DD/MM/YYYY"


@dataclass(frozen=True)
class Table:
    """A sheet: a title, headers, and rows of plain values (dates as `date`)."""

    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]


def local_date(moment: datetime | None) -> date | None:
    return moment.astimezone(ZONE).date() if moment is not None else None


def registration_table(registrations: Sequence[Registration], plan: Plan, t: Translator) -> Table:
    """The Department's list: one row per registration, in the plan's order of units."""
    order = {unit.code: i for i, unit in enumerate(plan.units)}
    ordered = sorted(registrations, key=lambda r: (order.get(r.unit_code, len(order)), r.code))
    return Table(
        title=t("export.sheet"),
        headers=[t(f"export.col.{name}") for name in COLUMNS],
        rows=[registration_row(r, plan, t) for r in ordered],
    )


def registration_row(r: Registration, plan: Plan, t: Translator) -> list[Cell]:
    lang = t.lang
    contact = ", ".join(x for x in (r.contact_name, r.contact_position, r.contact_email) if x)
    return [
        unit_display(plan, r.unit_code),
        r.village,
        r.craft,
        t("export.decision", number=r.decision_number, date=t.date(r.decision_date)),
        f"{r.rep_name} ({rep_type_name(plan, r.rep_type, lang)})",
        contact,
        r.contact_phone,
        "; ".join(item_name(plan, code, lang) for code in r.items),
        ", ".join(str(year) for year in r.prior_years),
        t(f"status.{r.status}") if t.has(f"status.{r.status}") else r.status,
        r.code,
        local_date(r.submitted_at),
        local_date(r.forwarded_at),
    ]


def unit_display(plan: Plan, code: str) -> str:
    try:
        return plan.unit(code).display
    except KeyError:
        return code


def item_name(plan: Plan, code: str, lang: str) -> str:
    try:
        item = plan.item(code)
    except KeyError:
        return code
    return f"{item.number}. {item.name.get(lang)}"


def rep_type_name(plan: Plan, code: str, lang: str) -> str:
    for kind in plan.representative_types:
        if kind.code == code:
            return kind.name.get(lang)
    return code


# --- writing files ------------------------------------------------------------------------


def to_xlsx(table: Table) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = table.title[:31]  # Excel's limit for a sheet name
    sheet.append(list(table.headers))
    for row in table.rows:
        sheet.append(list(row))
    header = Alignment(wrap_text=True, vertical="center")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = header
    body = Alignment(wrap_text=True, vertical="top")  # one object: openpyxl indexes styles
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = body
            if isinstance(cell.value, date | datetime):
                cell.number_format = _EXCEL_DATE
    for column, width in enumerate(_widths(table), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _widths(table: Table) -> list[float]:
    """Wide enough for most values (and every header word), never wider than _MAX_WIDTH."""
    widths = []
    for i, header in enumerate(table.headers):
        longest = max(
            [len(_as_text(row[i])) for row in table.rows] + [max(map(len, header.split()))]
        )
        widths.append(float(min(max(longest + 2, _MIN_WIDTH), _MAX_WIDTH)))
    return widths


def _as_text(value: Cell) -> str:
    if isinstance(value, date):
        return _EXCEL_DATE  # as wide as the date it shows
    return "" if value is None else str(value)


def to_csv(table: Table) -> bytes:
    """UTF-8 with a BOM (Excel's sign for UTF-8); dates as ISO 2017-05-10, which Excel
    reads as dates in every locale."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(
            [v.isoformat() if isinstance(v, date) else ("" if v is None else v) for v in row]
        )
    return out.getvalue().encode("utf-8-sig")


def write(table: Table, fmt: Format) -> bytes:
    return to_xlsx(table) if fmt == "xlsx" else to_csv(table)


def filename(stem: str, day: date, fmt: Format) -> str:
    return f"{stem}-{day.isoformat()}.{fmt}"


# --- the same record for machines -------------------------------------------------------------


def registration_json(r: Registration, plan: Plan) -> dict[str, Any]:
    """A forwarded registration as JSON (the outbound webhook's body)."""

    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "code": r.code,
        "plan": r.plan_id,
        "status": r.status,
        "unit": {"code": r.unit_code, "name": unit_display(plan, r.unit_code)},
        "village": r.village,
        "commune": r.commune,
        "craft": r.craft,
        "recognition": {"number": r.decision_number, "date": r.decision_date.isoformat()},
        "representative": {
            "type": r.rep_type,
            "name": r.rep_name,
            "legal_entity": r.rep_legal_entity,
        },
        "contact": {
            "name": r.contact_name,
            "position": r.contact_position,
            "phone": r.contact_phone,
            "email": r.contact_email,
        },
        "items": list(r.items),
        "prior_years": list(r.prior_years),
        "submitted_at": moment(r.submitted_at),
        "forwarded_at": moment(r.forwarded_at),
    }
