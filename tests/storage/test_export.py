"""The back-office file: reopened with openpyxl and csv, cell by cell."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from bot.i18n import Translator
from bot.plan import Plan, load_plan
from storage import export
from storage.models import Registration

HEADERS = [
    "Quận/huyện", "Làng nghề", "Nghề", "Số/ngày QĐ công nhận", "Đại diện", "Người liên hệ",
    "Điện thoại", "Nội dung đăng ký", "Đã đăng ký các năm", "Trạng thái", "Mã hồ sơ",
    "Ngày gửi", "Ngày xác nhận",
]  # fmt: skip


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


def registrations() -> list[Registration]:
    common = dict(
        plan_id="hanoi-2017", rep_type="cooperative", rep_legal_entity=True,
        decision_date=date(2010, 3, 15), contact_position="Chủ nhiệm HTX",
    )  # fmt: skip
    return [
        Registration(
            code="HN2017-HDO-0001", status="submitted", unit_code="HDO", village="Vạn Phúc",
            village_key="van phuc", commune="phường Vạn Phúc", craft="dệt lụa",
            decision_number="123/QĐ-UBND", rep_name="HTX Lụa Vạn Phúc",
            contact_name="Trần Thị Bình", contact_phone="0987654321", contact_email=None,
            items=["identity"], prior_years=[],
            submitted_at=datetime(2017, 5, 11, 17, 30, tzinfo=UTC),  # 00:30 on the 12th
            forwarded_at=None, **common,
        ),
        Registration(
            code="HN2017-GLA-0001", status="forwarded", unit_code="GLA", village="Bát Tràng",
            village_key="bat trang", commune="xã Bát Tràng", craft="gốm sứ",
            decision_number="5427/QĐ-UBND", rep_name="HTX Gốm sứ Bát Tràng",
            contact_name="Nguyễn Văn An", contact_phone="0912345678",
            contact_email="htx@battrang.vn", items=["training", "identity", "strategy"],
            prior_years=[2015, 2016],
            submitted_at=datetime(2017, 5, 10, 2, 0, tzinfo=UTC),
            forwarded_at=datetime(2017, 5, 12, 3, 0, tzinfo=UTC), **common,
        ),
    ]  # fmt: skip


def test_xlsx_reopened_has_the_departments_headers_and_real_dates(plan: Plan) -> None:
    table = export.registration_table(registrations(), plan, Translator("vi"))
    book = load_workbook(io.BytesIO(export.to_xlsx(table)))
    sheet = book.active
    assert sheet is not None and sheet.title == "Danh sách đăng ký"
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS
    hdo = dict(zip(HEADERS, rows[1], strict=True))  # the plan's order: quận before huyện
    gla = dict(zip(HEADERS, rows[2], strict=True))
    assert gla["Quận/huyện"] == "huyện Gia Lâm" and gla["Làng nghề"] == "Bát Tràng"
    assert gla["Số/ngày QĐ công nhận"] == "5427/QĐ-UBND ngày 15/03/2010"
    assert gla["Đại diện"] == "HTX Gốm sứ Bát Tràng (Hợp tác xã)"
    assert gla["Người liên hệ"] == "Nguyễn Văn An, Chủ nhiệm HTX, htx@battrang.vn"
    assert gla["Điện thoại"] == "0912345678"  # text: the leading 0 is kept
    assert (
        gla["Nội dung đăng ký"].startswith("1. Đào tạo") and "3. Tư vấn" in gla["Nội dung đăng ký"]
    )
    assert gla["Đã đăng ký các năm"] == "2015, 2016"
    assert gla["Trạng thái"] == "quận/huyện đã xác nhận, chuyển Sở Công Thương"
    assert gla["Mã hồ sơ"] == "HN2017-GLA-0001"
    assert gla["Ngày gửi"] == datetime(2017, 5, 10) and gla["Ngày xác nhận"] == datetime(
        2017, 5, 12
    )
    assert hdo["Quận/huyện"] == "quận Hà Đông"
    assert hdo["Ngày gửi"] == datetime(2017, 5, 12)  # the day in Hanoi, not in UTC
    assert hdo["Ngày xác nhận"] is None and hdo["Đã đăng ký các năm"] is None

    submitted = sheet["L3"]
    assert submitted.is_date and submitted.number_format == "DD/MM/YYYY"
    assert sheet["G2"].data_type == "s"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:M3"
    assert all(cell.font.bold for cell in sheet[1])
    widths = {col: sheet.column_dimensions[col].width for col in "ABCDEFGHIJKLM"}
    assert all(8 <= w <= 48 for w in widths.values())
    assert widths["H"] > widths["C"]  # the long column is wider


def test_csv_has_a_bom_and_reads_back(plan: Plan) -> None:
    table = export.registration_table(registrations(), plan, Translator("vi"))
    content = export.to_csv(table)
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == HEADERS
    assert rows[2][1] == "Bát Tràng" and rows[2][11] == "2017-05-10" and rows[2][12] == "2017-05-12"
    assert rows[1][12] == ""


def test_english_headers_on_request(plan: Plan) -> None:
    table = export.registration_table(registrations(), plan, Translator("en"))
    assert table.headers[:3] == ["District", "Village", "Craft"]
    assert table.rows[1][9] == "confirmed by the district, sent to the Department"


def test_registration_json_for_the_webhook(plan: Plan) -> None:
    record = export.registration_json(registrations()[1], plan)
    assert record["code"] == "HN2017-GLA-0001"
    assert record["unit"] == {"code": "GLA", "name": "huyện Gia Lâm"}
    assert record["recognition"] == {"number": "5427/QĐ-UBND", "date": "2010-03-15"}
    assert record["forwarded_at"] == "2017-05-12T03:00:00+00:00"
    assert record["items"] == ["training", "identity", "strategy"]


def test_an_empty_list_is_still_a_file_with_headers(plan: Plan) -> None:
    table = export.registration_table([], plan, Translator("vi"))
    sheet = load_workbook(io.BytesIO(export.to_xlsx(table))).active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == HEADERS and sheet.max_row == 1
