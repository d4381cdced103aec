"""What a batch output line is made of, and the fixed names of its results (docs/batch.md lists them).

One naming rule for every batch format (JSON lines, CSV):

- A line is the row's input columns, then the operation's results under the fixed
  names below, then `error` when the row failed (in CSV: `error_code`, `error_message`).
- An input column named like a result (or like `error`, `error_code`,
  `error_message`, `wechat_extra`) is a stale result from an earlier run's output
  fed back as input: it is dropped on the way in (batch_input.BatchInput) and this
  run's result takes its place. The operation's keys (`out_user_id`, ...) are never
  dropped: they say whom to ask.
- Every other input column is carried unchanged, whatever the answer holds.
- Fields WeChat sends that its endpoint does not declare (wire/shapes.py) appear
  only under `wechat_extra` in JSON lines, never in CSV. While WeChat sends only
  declared fields, the lines are exactly what they were before this rule.
- In CSV, every value that is not the input's own gets the formula guard
  (terminal/output.CsvWriter); `Line.carried` says which values are.
"""

from __future__ import annotations

from dataclasses import dataclass

from wxpay_cli.wire import shapes

ERROR = "error"  # a failed row's {"code", "message", "http_status", "request_id"}
ERROR_COLUMNS = {"error_code": "error.code", "error_message": "error.message"}  # CSV: the same, by path
WECHAT_EXTRA = "wechat_extra"  # JSON lines only: what WeChat sent beyond its declared fields


@dataclass(frozen=True)
class Operation:
    """A batch operation's names: the keys a row gives, and the results its lines add."""

    required: tuple[str, ...]
    one_of: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()  # JSON lines: the results, a nested object whole
    columns: tuple[str, ...] = ()  # CSV: the result columns, a nested value by its path
    answer: dict | None = None  # the WeChat answer the results are (its declared fields); None: made by wxpay

    @property
    def keys(self) -> tuple[str, ...]:
        return self.required + self.one_of

    @property
    def results(self) -> frozenset[str]:
        """Every name this operation writes: an input column so named is a stale result."""
        tops = {name.split(".")[0] for name in self.columns}
        return frozenset({*self.fields, *self.columns, *tops, ERROR, *ERROR_COLUMNS, WECHAT_EXTRA})


def _answered(shape: dict, asked: tuple[str, ...]) -> tuple[str, ...]:
    """The answer's declared fields but the ids asked for (the row's own columns carry those)."""
    return tuple(name for name in shape if name not in asked)


_PUPIL = ("out_user_id", "organization_id")

REPAYMENT_URL = Operation(
    required=_PUPIL, fields=_answered(shapes.REPAYMENT_URL, _PUPIL), answer=shapes.REPAYMENT_URL,
    columns=("repayment_url", "expire_at"))

USER_SHOW = Operation(
    required=_PUPIL, fields=_answered(shapes.USER, _PUPIL), answer=shapes.USER,
    columns=("user_id", "user_name", "user_type", "student_info.class_name", "staff_info.occupation", "status",
             "contract_state", "contract_id", "face_image_ok", "student_info", "staff_info"))

# The pupil found (its ids included: by out_user_id, WeChat's user_id is learnt) and the outcome:
# TERMINATED (sent now), ALREADY_TERMINATED (nothing to send), WOULD_TERMINATE (a dry run).
CONTRACT_TERMINATE = Operation(
    required=("organization_id",), one_of=("out_user_id", "user_id"),
    fields=("organization_id", "out_user_id", "user_id", "contract_id", "user_name", "class_name", "contract_state",
            "outcome", "request_id", "note", "dry_run", "request"),
    columns=("user_id", "user_name", "class_name", "contract_id", "contract_state", "outcome", "request_id", "note",
             "dry_run"))

OPERATIONS = {"repayment-url": REPAYMENT_URL, "user show": USER_SHOW, "contract terminate": CONTRACT_TERMINATE}


class Line(dict):
    """One output line, as JSON writes it; `carried` names the values that are the input's own."""

    def __init__(self, record: dict, carried: frozenset[str] = frozenset()):
        super().__init__(record)
        self.carried = carried


def line(columns: dict, result: dict | None = None, *, operation: Operation | None = None,
         error: dict | None = None) -> Line:
    """The row's `columns`, then the results `result` holds (under `operation`'s names: anything
    WeChat did not declare under wechat_extra), then `error`.

    Without an operation every key of `result` is a result (an engine run with no command)."""
    record = dict(columns)
    extra: dict = {}
    if result:
        if operation is None:
            found = result
        elif operation.answer is None:
            found = {name: value for name, value in result.items() if name in operation.fields}
        else:
            declared, extra = shapes.split(operation.answer, result)
            found = {name: value for name, value in declared.items() if name in operation.fields}
        record.update(found)  # a key column keeps its place; a stale result was dropped on the way in
    if extra:
        record[WECHAT_EXTRA] = extra
    if error is not None:
        record[ERROR] = error
    carried = frozenset(name for name, value in columns.items() if _same(record[name], value))
    return Line(record, carried)


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b
