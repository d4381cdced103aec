"""The audit trail says who: operator and host on every record; `wxpay audit` reads it back."""

from __future__ import annotations

import json
import socket

import pytest

from wxpay_cli.audit import AuditLog

FETCH = ("repayment-url", "--user", "demo", "--org", "demo-org", "--json")
TERMINATE = ("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json")


def audit_lines() -> list[dict]:
    return list(AuditLog().records())


def test_records_name_the_profiles_operator_and_the_host(sandbox, configure, run):
    configure(sandbox, operator="张三")
    assert run(*FETCH).exit_code == 0
    assert run(*TERMINATE).exit_code == 0
    lines = audit_lines()
    assert [line["operation"] for line in lines] == ["repayment_url", "terminate", "terminate"]
    assert all(line["operator"] == "张三" for line in lines)
    assert all(line["host"] == socket.gethostname() for line in lines)


def test_operator_defaults_to_the_login_name(sandbox, configure, run, monkeypatch):
    configure(sandbox)
    monkeypatch.setenv("LOGNAME", "wang.wu")
    assert run(*FETCH).exit_code == 0
    assert audit_lines()[-1]["operator"] == "wang.wu"


def test_operator_has_a_safe_fallback_when_no_login_name_is_known(sandbox, configure, run, monkeypatch):
    configure(sandbox)

    def no_login_name():
        raise OSError("no login name")

    monkeypatch.setattr("getpass.getuser", no_login_name)
    result = run(*FETCH)
    assert result.exit_code == 0, result.stderr
    operator = audit_lines()[-1]["operator"]
    assert isinstance(operator, str) and operator  # never missing, never a crash


def test_batch_records_name_the_operator(sandbox, configure, run, tmp_path):
    configure(sandbox, operator="李四")
    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id\ndemo,demo-org\ndemo-2,demo-org\n")
    result = run("repayment-url", "--batch", str(rows))
    assert result.exit_code == 0, result.stderr
    assert [line["operator"] for line in audit_lines()] == ["李四", "李四"]


@pytest.mark.parametrize("value", ["", "   ", 7, "x" * 200, "a\x1bb"])
def test_bad_operator_in_profile_is_a_config_error(value, sandbox, configure, run):
    configure(sandbox, operator=value)
    result = run(*FETCH)
    assert result.exit_code == 3, result.stderr
    assert "operator" in result.stderr
    assert sandbox.received == []
