"""Reading the audit log for `wxpay cases` through its index, at the edges: line numbers after the
index, a cut-short or blank line, a line longer than one read, damaged lines past the twenty kept,
an index that is JSON of the wrong shape."""

from __future__ import annotations

import pytest
from test_cases import MCHID, NOW, end, link, write

from wxpay_cli.flows import cases
from wxpay_cli.local import audit, case_index
from wxpay_cli.local.audit import AuditLog


def append(log: AuditLog, data: bytes) -> None:
    with log.path.open("ab") as handle:
        handle.write(data)


def stages(reading: cases.Reading) -> dict:
    return {case.out_user_id: case.stage for case in cases.listed(reading.fold, MCHID, NOW)}


def test_a_damaged_line_added_after_the_index_is_named_by_its_own_line(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(0, "A"), link(1, "B")])
    assert cases.read(log).damaged == []  # the index now ends after line 2
    append(log, b"{not json\n")
    write(log.path, [link(2, "C")], mode="a")
    reading = cases.read(log)
    assert (reading.damaged, reading.damaged_count) == ([3], 1)
    assert stages(reading) == {"A": "link_fetched", "B": "link_fetched", "C": "link_fetched"}


def test_a_damaged_last_line_without_its_newline_is_named_by_its_line(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(0, "A"), link(1, "B")])
    append(log, b'{"time": "2026-11-26T06:02:00+00:00", "oper')
    assert cases.read(log).damaged == [3]


@pytest.mark.parametrize("tail", [b"[1, 2]", b"7", b'"text"', b"null"])
def test_a_last_line_that_is_json_but_no_object_is_damaged_not_a_crash(tmp_path, tail):
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(0, "A")])
    append(log, tail)
    reading = cases.read(log)
    assert (reading.damaged, stages(reading)) == ([2], {"A": "link_fetched"})


def test_a_blank_line_is_neither_damaged_nor_a_case(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(0, "A")])
    append(log, b"\n   \n")
    write(log.path, [end(1, "succeeded", "A")], mode="a")
    reading = cases.read(log)
    assert (reading.damaged_count, stages(reading)) == (0, {"A": "terminated"})


def test_lines_longer_than_one_read_are_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(audit, "READ_BLOCK", 64)  # every record spans several reads
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(n, f"P{n}") for n in range(5)] + [end(9, "succeeded", "P2")])
    reading = cases.read(log, use_index=False)
    assert reading.damaged_count == 0
    assert stages(reading) == {"P0": "link_fetched", "P1": "link_fetched", "P2": "terminated",
                               "P3": "link_fetched", "P4": "link_fetched"}


def test_damaged_lines_past_the_first_twenty_are_counted_not_listed(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(0, "A")])
    append(log, b"{broken\n" * 25)
    reading = cases.read(log)
    assert (reading.damaged, reading.damaged_count) == (list(range(2, 22)), 25)


@pytest.mark.parametrize("index", [b"[]", b'"cases"', b'{"version": 1, "kind": "cases-1", "device": 0, "inode": 0}',
                                   b"7"])
def test_an_index_of_the_wrong_shape_is_set_aside(tmp_path, index):
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(0, "A"), end(1, "succeeded", "A")])
    case_index.index_path(log.path).write_bytes(index)
    assert stages(cases.read(log)) == {"A": "terminated"}


def test_an_index_whose_fields_have_the_wrong_types_is_set_aside(tmp_path):
    import json
    import os

    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(0, "A"), end(1, "succeeded", "A")])
    cases.read(log)
    path = case_index.index_path(log.path)
    data = json.loads(path.read_text())
    status = os.stat(log.path)
    assert [data["device"], data["inode"]] == [status.st_dev, status.st_ino]
    data["damaged"] = 5  # not a list
    path.write_text(json.dumps(data))
    assert stages(cases.read(log)) == {"A": "terminated"}
