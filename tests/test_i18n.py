"""The Chinese interface: language choice, a complete catalog, click's own
sentences, help texts, JSON that does not change with the language, and what an operator
reads in Chinese through the day (labels, sentence joins, errors from click and the OS)."""

from __future__ import annotations

import gettext
import importlib.util
import json
import re
import string

import pytest
from batchrows import csv_rows
from common import ROOT, closed_port, commands

from wxpay_cli import i18n
from wxpay_cli.cli import cli
from wxpay_cli.terminal.cjkwrap import width


def _catalog_tool():
    import babel  # noqa: F401  a test extra: missing, the catalog tests fail rather than skip
    spec = importlib.util.spec_from_file_location("catalog_tool", ROOT / "tools" / "catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def back_to_english():
    yield
    i18n.set_language("en")
    i18n.localize_command(cli)


# -- the catalog ----------------------------------------------------------------


def _placeholders(text: str) -> set[str]:
    fields = {f"{{{name}{'!' + conv if conv else ''}}}" for _lit, name, _spec, conv in string.Formatter().parse(text) if name is not None}
    return fields | set(re.findall(r"%\(\w+\)[sdr]", text))


# click's sentences a person meets at every turn: these must be translated
# whatever click version is installed (its rarer ones may change between versions).
CLICK_ESSENTIAL = ("Usage:", "Options", "Commands", "Error: {message}", "Missing option", "Missing argument",
                   "Show this message and exit.", "Show the version and exit.", "No such option {name!r}.",
                   "No such command {name!r}.", "Try '{command} {option}' for help.",
                   "Invalid value for {param_hint}: {message}", "Aborted!")


def test_every_message_has_a_chinese_translation_with_the_same_placeholders():
    tool = _catalog_tool()
    catalog = tool.read_catalog()
    messages = {**tool.code_messages(tool.PACKAGE), **tool.help_messages()}
    click_messages = tool.click_messages()
    assert set(CLICK_ESSENTIAL) <= set(click_messages), "click's own sentences moved: update CLICK_ESSENTIAL"
    messages.update({m: click_messages[m] for m in CLICK_ESSENTIAL})
    untranslated_click = [m for m in click_messages if catalog.get(m[0] if isinstance(m, tuple) else m) is None]
    assert len(untranslated_click) <= len(click_messages) // 10, untranslated_click
    problems = []
    for message, where in messages.items():
        entry = catalog.get(message[0] if isinstance(message, tuple) else message)
        if entry is None or entry.fuzzy:
            problems.append(f"untranslated {message!r} ({where[0]})")
            continue
        if isinstance(message, tuple):
            wanted = _placeholders(message[0]) | _placeholders(message[1])
            [translated] = entry.string
            if not _placeholders(translated) <= wanted or _placeholders(message[1]) - _placeholders(translated) - {"{possibility}", "{choice}", "{format}"}:
                problems.append(f"placeholders differ: {message!r} -> {translated!r}")
        else:
            translated = entry.string
            if _placeholders(translated) != _placeholders(message):
                problems.append(f"placeholders differ: {message!r} -> {translated!r}")
        if not translated:
            problems.append(f"untranslated {message!r} ({where[0]})")
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} problems; run python tools/catalog.py update)"


def test_the_compiled_catalog_is_the_po_file():
    tool = _catalog_tool()
    catalog = tool.read_catalog()
    with open(tool.MO, "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in catalog:
        if not message.id or not all(message.string if isinstance(message.string, tuple) else [message.string]):
            continue  # untranslated: not compiled (the completeness test reports it)
        if isinstance(message.id, tuple):
            assert compiled.ngettext(*message.id, 5) == message.string[0], message.id
        else:
            assert compiled.gettext(message.id) == message.string, f"{message.id!r}: run python tools/catalog.py compile"


# -- choosing the language --------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "environ", "expected"),
    [
        (None, {}, "en"),
        (None, {"LANG": "zh_CN.UTF-8"}, "zh"),
        (None, {"LANG": "zh_TW.UTF-8"}, "zh"),
        (None, {"LANG": "zh_CN.UTF-8", "LC_ALL": "C.UTF-8"}, "en"),
        (None, {"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh"),
        (None, {"LC_ALL": "zh_CN.UTF-8", "WXPAY_LANG": "en"}, "en"),
        (None, {"LANG": "C", "WXPAY_LANG": "zh"}, "zh"),
        ("en", {"WXPAY_LANG": "zh", "LANG": "zh_CN.UTF-8"}, "en"),
        ("zh", {"LANG": "C"}, "zh"),
    ],
)
def test_language_choice_order(flag, environ, expected):
    assert i18n.choose_language(flag, environ) == expected


def test_lang_flag_is_read_before_click_parses():
    assert i18n.lang_flag(["--lang", "zh", "repayment-url"]) == "zh"
    assert i18n.lang_flag(["--lang=en", "--help"]) == "en"
    assert i18n.lang_flag(["repayment-url", "--", "--lang", "zh"]) is None
    assert i18n.lang_flag(["--lang", "fr"]) is None


def test_help_in_chinese_with_flag_env_and_locale(run):
    assert "用法" in run("--lang", "zh", "--help").stdout
    assert "显示此帮助并退出" in run("--help", "--lang", "zh").stdout
    # click's own sentences and the --version help never change with wxpay's texts.
    assert "显示此帮助并退出" in run("repayment-url", "--help", env={"WXPAY_LANG": "zh"}).stdout
    assert "显示此帮助并退出" in run("contract", "terminate", "--help", env={"LANG": "zh_CN.UTF-8"}).stdout
    assert "显示版本并退出" in run("--help", env={"LC_ALL": "zh_CN.UTF-8", "LANG": "C"}).stdout
    english = run("--lang", "en", "repayment-url", "--help", env={"LANG": "zh_CN.UTF-8"}).stdout
    assert "Usage:" in english and "Show this message and exit." in english and "用法" not in english


def test_help_goes_back_to_english_in_the_same_process(run):
    run("--lang", "zh", "user", "show", "--help")
    result = run("user", "show", "--help")
    assert "Show a pupil" in result.stdout and "Show this message and exit." in result.stdout
    assert not re.search(r"[\u4e00-\u9fff]", result.stdout.replace("解约", ""))


def test_click_usage_errors_are_in_chinese(run):
    result = run("--lang", "zh", "repayment-url", "--user", "x", "--org", expect=2)
    assert "错误" in result.stderr and "需要 1 个值" in result.stderr
    result = run("--lang", "zh", "no-such-command")
    assert "没有命令" in result.stderr
    result = run("--lang", "zh", "--config")
    assert "Error" not in result.stderr and "错误" in result.stderr


@pytest.mark.parametrize("args, words", [(["audit", "--limit", "x"], "不是有效的整数"),
                                         (["user", "show", "--rate", "x", "--batch", "r.csv"], "不是有效的数")])
def test_a_bad_number_is_named_in_chinese(run, args, words):
    result = run("--lang", "zh", *args, expect=2)
    assert words in result.stderr and "range" not in result.stderr, result.stderr


@pytest.mark.parametrize("path", [path for path, _ in commands()], ids=" ".join)
def test_every_help_in_chinese_fits_80_columns(run, path):
    result = CliRunnerWide().invoke(cli, ["--lang", "zh", *path, "--help"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("用法")
    assert max(width(line) for line in lines) <= 80, "\n".join(line for line in lines if width(line) > 80)
    assert "Show this message" not in result.stdout


class CliRunnerWide:
    def invoke(self, command, args):
        from click.testing import CliRunner

        return CliRunner().invoke(command, args, terminal_width=80, catch_exceptions=False)


# -- JSON is the same in every language ---------------------------------------


def test_json_output_and_json_errors_do_not_change_with_the_language(sandbox, configure, run):
    configure(sandbox)
    commands = [
        ["user", "show", "--user", "demo", "--org", "demo-org", "--json"],
        ["user", "show", "--user", "nobody", "--org", "demo-org", "--json"],
        ["contract", "terminate", "--user", "demo-terminated", "--org", "demo-org", "--yes", "--json"],
        ["--profile", "missing", "user", "show", "--user", "demo", "--org", "demo-org", "--json"],
        ["repayment-url", "--org", "demo-org", "--json"],
        ["audit", "--json"],
        ["config", "check", "--json"],
        ["repayment-url", "--user", "demo", "--org", "demo-org", "--json", "--qr"],
    ]
    for args in commands:
        english = run("--lang", "en", *args)
        chinese = run("--lang", "zh", *args)
        assert english.exit_code == chinese.exit_code, args
        assert _same_json(english.stdout) == _same_json(chinese.stdout), args
        assert _json_errors(english.stderr) == _json_errors(chinese.stderr), args


def _same_json(stdout: str) -> list:
    """The JSON lines, without what differs between two runs anyway (fresh tokens, times, ids)."""
    records = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    for record in records:  # config check: the clock may tick over between the runs
        if isinstance(record, dict) and "clock_offset_seconds" in record:
            record.pop("clock_offset_seconds")
            record["checks"] = [c for c in record["checks"] if c.get("check") != "clock"]
    text = json.dumps(records, ensure_ascii=False)
    return json.loads(re.sub(r"(token=|/repay/)[^\"&]+|\d{4}-\d\d-\d\dT[^\"]+|\b[0-9A-F]{20,}\b|\d+ ms", "…", text))


def _json_errors(stderr: str) -> list[dict]:
    errors = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    for error in errors:
        error["error"].pop("request_id", None)  # one per request
    return errors


def test_a_translated_error_keeps_its_english_for_json():
    from wxpay_cli.errors import ConfigError

    i18n.set_language("zh")
    message = i18n._("error: {message}").format(message="x")
    assert message == "错误：x" and i18n.english(message) == "error: x"
    error = ConfigError(message, hint=i18n._("interrupted"))
    assert error.to_dict()["message"] == "error: x (interrupted)"
    assert i18n.english_data({"a": [message]}) == {"a": ["error: x"]}


def test_english_start_up_does_not_load_the_catalog(run):
    run("--lang", "en", "--version")
    assert i18n._catalog is None


# -- an operator under a Chinese locale ---------------------------------------

# What may stay in Latin letters under Chinese: things to type or data, never wxpay's words.
# Commands, flags and their values, choices ([table|json]), `code`, quoted values, URLs,
# paths, environment variables, ids and file names (a digit, _ . / - inside), CODES and
# METAVARS in capitals; and these names.
LATIN_NAMES = {"wxpay", "mchid", "appid", "openid", "demo", "python", "excel", "windows", "powershell"}
NOT_PROSE = re.compile(r"`[^`]*`|https?://\S+|\$\w+|--[\w-]+(?:[ =][A-Za-z][\w-]*(?=[\s，。；）)]|$))?"
                       r"|'[^'\n]*'|\"[^\"\n]*\"|“[^”\n]*”|\[[\w-]+(?:\|[\w-]+)+\]|\{[\w-]+(?:\|[\w-]+)+\}|JSON Lines")


REQUEST_HEADER = re.compile(r"^ *(?:host|content-length|connection|accept|accept-encoding|user-agent|authorization"
                            r"|wechatpay-serial|content-type) {2,}.*$", re.MULTILINE)


def _untranslated(text: str) -> list[str]:
    """The English words of wxpay's own left in `text` (see LATIN_NAMES for what is not)."""
    from wxpay_cli.local.config import PROFILE_KEYS

    # cli: the test runner's wxpay; the config file's keys (`config show` lists them)
    typed = {"cli", "profile", "config", *PROFILE_KEYS} | {name for path, _command in commands() for name in path}
    found = []
    for token in re.findall(r"[^\s，。：；、（）()\[\]{}|│─]+", NOT_PROSE.sub(" ", text)):
        token = token.strip(",.;:!?*")
        if not token or re.search(r"[0-9_./@\\~=+%#&,<>-]", token):
            continue
        found += [word for word in re.findall(r"[A-Za-z]{2,}", token)
                  if not word.isupper() and word.lower() not in LATIN_NAMES and word not in typed]
    return found


def test_the_detector_sees_a_word_of_english_and_lets_data_through():
    assert _untranslated("已拒绝确认 declined") == ["declined"]
    assert _untranslated("学号 [required]") == ["required"]
    assert _untranslated("结果：not_sent、serial 0A1B = serial_no") == ["serial"]
    assert _untranslated("用 `wxpay audit` 或 --format json，SIGN_ERROR（CONTRACTED）demo-org PUB_KEY_ID_01 "
                         "/v3/x https://a.b/c 'x y' wechatpay_<SERIAL>.pem [table|json] $WXPAY_LANG") == []


@pytest.mark.parametrize("path", [[], *(path for path, _ in commands())], ids=lambda path: " ".join(path) or "wxpay")
def test_every_help_under_chinese_has_no_english_of_wxpays_own(run, path):
    result = run("--lang", "zh", *path, "--help", env={"COLUMNS": "200"}, expect=0)
    assert not _untranslated(result.stdout), f"{_untranslated(result.stdout)}\n{result.stdout}"


def _every_outcome_in_the_audit_log() -> None:
    """One audit record of every operation and outcome, with the errors wxpay records."""
    from wxpay_cli.commands.audit import OPERATIONS, OUTCOMES
    from wxpay_cli.local.audit import AuditLog

    errors = [None, "NOT_CONFIRMED", "LEFT_OPEN: confirmed by a later query", "LEFT_OPEN: TERMINATED",
              "confirmed by re-query after: NETWORK_ERROR", "LINK_HOST"]
    log = AuditLog()
    log.path.parent.mkdir(parents=True, exist_ok=True)
    with log.path.open("w", encoding="utf-8") as handle:
        for n, (operation, outcome) in enumerate((o, r) for o in OPERATIONS for r in OUTCOMES):
            handle.write(json.dumps({
                "time": f"2026-11-26T06:{n % 60:02d}:00+08:00", "operator": "张三", "host": "ops-01",
                "profile": "school-a", "mchid": "1900000001", "operation": operation, "organization_id": "1234567",
                "out_user_id": f"2024{n:04d}", "user_id": "wxu_1", "contract_id": "ct_1", "outcome": outcome,
                "http_status": 204, "request_id": "08A1B2C3", "error": errors[n % len(errors)]},
                ensure_ascii=False) + "\n")


def test_every_outcome_under_chinese_has_no_english_of_wxpays_own(sandbox, configure, run, pupils, tmp_path,
                                                                  monkeypatch, key_files):
    """What an operator reads through the day under zh_CN: every table, summary, question and
    error of every outcome (stdout too, unless it is JSON, which never changes language)."""
    table = configure(sandbox, merchant_cert=str(key_files["merchant_cert"]))
    roster = tmp_path / "名单.csv"
    roster.write_text("out_user_id,organization_id,姓名\n" + "".join(
        f"{user},demo-org,学生{n}\n" for n, user in enumerate(["p00", "p01", "p00", "20249999", "demo-terminated",
                                                                 "ｐ０２", "p0 3", ""])), encoding="utf-8")
    wide = {"LANG": "zh_CN.UTF-8", "COLUMNS": "250"}
    person = ("person", "y\n")  # asked on a terminal, answered
    sessions = [
        (("repayment-url", "--user", "demo", "--org", "demo-org", "--format", "table", "--message", "--qr"),),
        (("repayment-url", "--user", "demo", "--org", "demo-org", "--message", "--json"),),
        (("repayment-url", "--user", "nobody", "--org", "demo-org", "--format", "table", "--message"),),
        (("user", "show", "--user", "demo", "--org", "demo-org", "--format", "table"),),
        (("user", "show", "--user", "nobody", "--org", "demo-org", "--format", "table"),),
        (("user", "show", "--user", "２０２４", "--org", "demo-org"),),
        (("org", "show", "--id", "demo-org", "--format", "table"),),
        (("org", "show", "--name", "没有这所学校", "--format", "table"),),
        (("contract", "show", sandbox.state.users[("demo-org", "demo-2")].contract_id, "--format", "table"),),
        (("contract", "terminate", "--user", "demo", "--org", "demo-org", "--dry-run", "--format", "table"),),
        (("contract", "terminate", "--user", "demo", "--org", "demo-org", "--format", "table"),),
        (("contract", "terminate", "--user", "demo", "--org", "demo-org", "--format", "table"), ("person", "否\n")),
        (("contract", "terminate", "--user", "demo", "--org", "demo-org", "--format", "table"), ("person", "x\nn\n")),
        (("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--format", "table"),),
        (("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--format", "table"),),
        (("contract", "terminate", "--user-id", "wxu_x", "--org", "demo-org", "--yes", "--format", "table"),),
        (("handover", "--user", "demo-2", "--org", "demo-org"), ("person", "y\ny\nn\n")),
        (("repayment-url", "--batch", str(roster), "--format", "table"),),
        (("repayment-url", "--batch", str(roster), "--format", "csv"),),
        (("user", "show", "--batch", str(roster), "--format", "table"),),
        (("user", "show", "--batch", str(roster)),),
        (("contract", "terminate", "--batch", str(roster), "--dry-run", "--format", "table"),),
        (("contract", "terminate", "--batch", str(roster), "--format", "table"), person),
        (("contract", "terminate", "--batch", str(roster), "--format", "table"),),
        (("contract", "terminate", "--batch", str(roster), "--yes", "--format", "table"),),
        (("user", "show", "--batch", "-", "--format", "table"), ("stdin", "学号，学校\n1,2\n")),
        (("config", "init", "--profile", "另一所学校"), ("person", "\n".join([
            "", "１９００", table["mchid"], str(key_files["private_key"]), str(tmp_path / "nowhere.pem"),
            str(key_files["merchant_cert"]), "PUB_1", table["public_key_id"], table["public_key"], "x", ""]) + "\n")),
        (("config", "show", "--format", "table"),),
        (("config", "check", "--format", "table"),),
        (("certs", "download", "--output", str(tmp_path)),),
        (("request", "get", "/v3/offlinefacemch/organizations?organization_id=nowhere"),),
        (("audit", "--outcome", "whatever"),),
        (("--profile", "nope", "user", "show", "--user", "demo", "--org", "demo-org"),),
        (("repayment-url", "--user", "demo"),),
    ]
    found = {}

    def sweep(args, result) -> None:
        shown = result.stderr + ("" if "--json" in args or result.stdout.lstrip().startswith("{")
                                 else result.stdout)
        shown = REQUEST_HEADER.sub("", shown)  # a dry run shows the request as it would be sent: data
        words = _untranslated(shown)
        if words:
            found[" ".join(args)] = (sorted(set(words)), shown)

    said: dict[str, str] = {}
    for args, *how in sessions:
        how = dict(how)
        with monkeypatch.context() as patch:
            if "person" in how:
                patch.setattr("wxpay_cli.terminal.prompt.interactive", lambda: True)
            result = run(*args, input=how.get("person") or how.get("stdin"), env=wide)
            sweep(args, result)
            said[args[0]] = said.get(args[0], "") + result.stderr
    assert "请改用半角字符" in said["config"] and "已取消：没有解约" in said["contract"]  # they were asked
    _every_outcome_in_the_audit_log()
    sweep(("audit",), run("audit", "--format", "table", env=wide))
    # the faults: WeChat's 5xx, a refused signature, an unverifiable answer, no answer at all
    sandbox.inject("status", status=500, code="SYSTEM_ERROR", message="系统错误", path_contains="terminate")
    sweep(("5xx",), run("contract", "terminate", "--user", "demo-2", "--org", "demo-org", "--yes", env=wide,
                        expect=4))
    sandbox.inject("status", status=401, code="SIGN_ERROR", message="签名错误")
    sweep(("401",), run("config", "check", "--format", "table", env=wide, expect=1))
    sandbox.inject("bad_signature")
    sweep(("bad signature",), run("user", "show", "--user", "demo", "--org", "demo-org", env=wide, expect=5))
    configure(sandbox, base_url=f"http://127.0.0.1:{closed_port()}")
    sweep(("closed port",), run("contract", "terminate", "--user", "demo-2", "--org", "demo-org", "--yes", env=wide,
                                expect=4))
    assert not found, "\n\n".join(f"{args}: {words}\n{shown[-3000:]}" for args, (words, shown) in found.items())


def test_chinese_help_wraps_by_display_width_and_keeps_commands_whole():
    from wxpay_cli.terminal.cjkwrap import wrap

    text = "请用 `wxpay config init` 创建配置档（参见 config.example.toml），或加 --config，或试试 --sandbox。" * 2
    lines = wrap(text, 30).splitlines()
    assert len(lines) > 3 and all(width(line) <= 30 for line in lines), lines
    assert sum("`wxpay config init`" in line for line in lines) == 2
    assert not any(line.startswith(("，", "。", "）")) for line in lines)


# -- what a Chinese-speaking operator reads in a day's work ------------------------------


def test_a_school_is_not_labelled_with_a_persons_name(sandbox, configure, run):
    configure(sandbox)
    result = run("--lang", "zh", "org", "show", "--id", "1234567", "--format", "table", expect=0)
    assert "学校名称" in result.stdout and "姓名" not in result.stdout


def test_chinese_summaries_put_no_space_before_a_full_width_bracket(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("--lang", "zh", "contract", "terminate", "--batch", "-", "--dry-run", "--json",
                 input=csv_rows(pupils[:2]), expect=0)
    assert " （" not in result.stderr, result.stderr
    assert "（共 2 行" in result.stderr
    assert re.search(r"秒（每秒 \d+ 行）", result.stderr) and "{" not in result.stderr, result.stderr
    english = run("contract", "terminate", "--batch", "-", "--dry-run", "--json", input=csv_rows(pupils[:2]))
    assert re.search(r" s \(\d+ rows/s\)", english.stderr) and "{" not in english.stderr, english.stderr


def test_a_chinese_summary_lists_pupils_with_the_enumeration_comma(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("--lang", "zh", "contract", "terminate", "--batch", "-", "--dry-run", "--json",
                 input=csv_rows(pupils[:2]))
    assert "p00、p01" in result.stderr, result.stderr
    english = run("contract", "terminate", "--batch", "-", "--dry-run", "--json", input=csv_rows(pupils[:2]))
    assert "p00, p01" in english.stderr


def test_click_file_and_number_errors_are_in_chinese(sandbox, configure, run, tmp_path):
    configure(sandbox)
    result = run("--lang", "zh", "user", "show", "--batch", str(tmp_path / "名单.csv"), expect=2)
    assert "No such file" not in result.stderr and "文件不存在" in result.stderr, result.stderr
    result = run("--lang", "zh", "audit", "--limit", "x", expect=2)
    assert "integer" not in result.stderr and "整数" in result.stderr, result.stderr
    result = run("--lang", "en", "audit", "--limit", "x")  # and English stays English in the same process
    assert "is not a valid integer range" in result.stderr


@pytest.mark.parametrize("command", [("repayment-url",), ("sandbox", "serve")])
def test_chinese_help_has_no_english_metavar(run, command):
    result = run("--lang", "zh", *command, "--help", expect=0)
    assert "INTEGER" not in result.stdout and "RANGE" not in result.stdout, result.stdout


def test_a_closed_port_is_said_in_chinese(sandbox, configure, run):
    configure(sandbox, base_url=f"http://127.0.0.1:{closed_port()}")
    result = run("--lang", "zh", "repayment-url", "--user", "demo", "--org", "demo-org", expect=4)
    assert "Connection refused" not in result.stderr and "连接被拒绝" in result.stderr, result.stderr
    english = run("--lang", "en", "repayment-url", "--user", "demo", "--org", "demo-org")
    assert "Connection refused" in english.stderr or "connection refused" in english.stderr
