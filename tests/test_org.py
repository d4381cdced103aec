"""`wxpay org show`: find a school's organization id by its name (or check an id), end to end."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest


def test_by_name_finds_the_id_and_the_request_is_signed(sandbox, configure, run):
    configure(sandbox)
    result = run("org", "show", "--name", "南山中兴小学部", "--json", expect=0)
    assert result.json == {"organization_id": "1234567", "organization_name": "南山中兴小学部"}
    [request] = sandbox.received
    assert request.method == "GET" and request.path == "/v3/offlinefacemch/organizations"
    assert parse_qs(urlsplit(request.target).query) == {"organization_name": ["南山中兴小学部"]}
    assert request.signature_ok and request.body == b""


def test_by_id(sandbox, configure, run):
    configure(sandbox)
    result = run("org", "show", "--id", "demo-org", "--json", expect=0)
    assert result.json["organization_name"] == "演示实验小学"
    assert sandbox.received[0].query == {"organization_id": ["demo-org"]}


def test_table_on_a_terminal(sandbox, configure, run):
    configure(sandbox)
    result = run("org", "show", "--name", "南山中兴小学部", "--format", "table", expect=0)
    assert "1234567" in result.stdout and "南山中兴小学部" in result.stdout


def test_unknown_name_is_wechats_refusal(sandbox, configure, run):
    configure(sandbox)
    result = run("org", "show", "--name", "没有这个学校", expect=1)
    assert "RESOURCE_NOT_EXISTS" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("args", [(), ("--id", "1", "--name", "x"), ("--name", " "), ("--name", "a\nb"),
                                  ("--name", "x" * 300), ("--id", "")])
def test_exactly_one_clean_question_is_a_usage_error(args, sandbox, configure, run):
    configure(sandbox)
    run("org", "show", *args, expect=2)
    assert sandbox.received == []


ORG_QUERY = "/v3/offlinefacemch/organizations"


BY_ID = ("--id", "1234567")
BY_NAME = ("--name", "南山中兴小学部")


@pytest.mark.parametrize("asked, answer", [
    (BY_ID, {"organization_id": "9999999", "organization_name": "南山中兴小学部"}),   # another school's id
    (BY_NAME, {"organization_id": "1234567", "organization_name": "北山小学"}),      # another school
    (BY_NAME, {"organization_id": "1234567"}),                                       # no name
    (BY_NAME, {"organization_id": 1234567, "organization_name": "南山中兴小学部"}),  # not a string
    (BY_NAME, {"organization_id": "", "organization_name": "南山中兴小学部"}),
])
def test_answer_not_about_what_was_asked_is_refused(asked, answer, hostile, run):
    hostile.rewrite(ORG_QUERY, lambda _: answer)  # signed, but not about what was asked
    result = run("org", "show", *asked, expect=5)
    assert result.stdout == ""


def test_name_with_control_characters_is_escaped_on_a_terminal(hostile, run):
    hostile.rewrite(ORG_QUERY, lambda _: {"organization_id": "1234567", "organization_name": "南山\x1b[2J小学"})
    result = run("org", "show", "--id", "1234567", "--format", "table", expect=0)
    assert "\x1b" not in result.stdout and "\\x1b[2J" in result.stdout
