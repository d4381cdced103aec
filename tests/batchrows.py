"""Helpers shared by the batch tests: pupils in the sandbox, batch input as CSV text or as
Excel writes a roster, batch output as records."""

from __future__ import annotations

import json


def lines(text: str) -> list[dict]:
    """The JSON lines of a batch's stdout, as records."""
    return [json.loads(line) for line in text.splitlines()]


def csv_rows(users, org="demo-org", header="out_user_id,organization_id") -> str:
    """A CSV batch input naming `users` of `org`."""
    return header + "\n" + "".join(f"{u},{org}\n" for u in users)


def seed_pupils(sandbox, count: int, **fields) -> list[str]:
    """`count` pupils p00, p01, … of demo-org in `sandbox`, named P00, P01, … in clear text."""
    names = [f"p{i:02d}" for i in range(count)]
    for name in names:
        sandbox.seed_user("demo-org", name, user_name=name.upper(), encrypt_name=False, **fields)
    return names


ROSTER = [("p00", "张小明", "三年级二班", "13800000000"), ("p01", "李小红", "五年级一班", "13900000000"),
          ("missing", "赵小刚", "一年级一班", "13700000000")]


def excel_gbk_roster(path, rows=ROSTER):
    """What Excel writes for 'CSV (comma delimited)' on a Chinese Windows: GBK, CRLF, no BOM."""
    text = "姓名,out_user_id,班级,organization_id,家长电话\r\n"
    text += "".join(f"{name},{user},{klass},demo-org,{phone}\r\n" for user, name, klass, phone in rows)
    path.write_bytes(text.encode("gbk"))
    return path


def workbook(path, rows, *, title="名单", sheets=(), formats=None, hidden=()):
    """A workbook as Excel saves one: `rows` on its first sheet `title` (None: a blank row), each
    value a cell as typed (a str a text cell, an int or a float a number cell); `sheets`: more
    (title, rows) after it; `formats`: {(row, column): number format} of the first sheet (1-based);
    `hidden`: the titles of sheets Excel does not show."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = title
    for index, (name, content) in enumerate([(title, rows), *sheets]):
        sheet = book.active if index == 0 else book.create_sheet(name)
        for number, row in enumerate(content, start=1):
            for column, value in enumerate(row or (), start=1):
                if value is not None:
                    cell = sheet.cell(row=number, column=column, value=value)
                    if index == 0 and formats and (number, column) in formats:
                        cell.number_format = formats[(number, column)]
    for sheet in book.worksheets:
        if sheet.title in hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return path


def read_workbook(path) -> list[list]:
    """Every row of the first sheet, as openpyxl reads it back: (value, data type) for each cell."""
    from openpyxl import load_workbook

    sheet = load_workbook(path).worksheets[0]
    return [[(cell.value, cell.data_type) for cell in row] for row in sheet.iter_rows()]
