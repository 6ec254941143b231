"""The Condition element: every operator family IAM documents. Pure functions.

Rules from AWS's "IAM JSON policy elements: Condition operators" and "Condition
element" pages:

- several operators in one Condition block: AND; several keys under one operator:
  AND; several values for one key: OR, or NOR for a negated operator (StringNotEquals,
  StringNotLike, StringNotEqualsIgnoreCase, NumericNotEquals, DateNotEquals,
  NotIpAddress, ArnNotEquals, ArnNotLike);
- a key absent from the request makes the condition false, except for negated
  operators (true), `…IfExists` (true) and `Null` (which tests presence);
- `ForAllValues:` is true when every request value matches some policy value, and also
  when the key is absent or its set is empty; `ForAnyValue:` is true when at least one
  request value matches, false when the key is absent or the set is empty;
- a multi-valued request key used without a set operator counts as matched when any of
  its values matches (negated operators: when none does);
- String* and Arn* values may hold policy variables (Version 2012-10-17 only); a
  variable whose key is absent, with no default, makes that key's test false;
- an operator the engine does not know yields None: the caller treats the statement
  cautiously (no Allow, but Deny);
- a key whose request value is `model.UNKNOWN` (or a policy variable naming one) makes
  its test undetermined: the block holds None with the key in `undetermined`, unless
  another test of the block fails outright (AND: then it is False).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from grants.policies.matching import (
    arn_matches,
    as_list,
    context_text,
    expand,
    glob_chunks,
    lookup,
    variable_keys,
)
from grants.policies.model import UNKNOWN

_SET_PREFIXES = {"forallvalues": "ForAllValues", "foranyvalue": "ForAnyValue"}


@dataclass
class ConditionResult:
    """The outcome of one Condition block.

    `holds` is True/False, or None when an operator is unknown (`unknown`) or a test
    turns on an UNKNOWN value (`undetermined`, with no test failing outright). `failed`
    lists the (operator, key) pairs that did not hold, as written; `missing` the keys
    absent from the request among those; `keys` every key the block tests, as written.
    """

    holds: bool | None
    failed: list[tuple[str, str]] = field(default_factory=list)
    undetermined: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- value comparators: (policy value, request value) -> bool -----------------------

Compare = Callable[[Any, Any, Mapping[str, Any], bool], bool | None]


def _text_values(policy_value: Any, context: Mapping[str, Any], variables: bool) -> Any:
    if isinstance(policy_value, bool):
        return [("true" if policy_value else "false", True)]
    return expand(str(policy_value), context, variables=variables)


def _string_equals(policy_value: Any, actual: Any, context: Mapping[str, Any], v: bool):
    chunks = _text_values(policy_value, context, v)
    if chunks is None:
        return None
    return "".join(t for t, _ in chunks) == context_text(actual)


def _string_equals_ignore_case(policy_value: Any, actual: Any, context: Mapping[str, Any], v: bool):
    chunks = _text_values(policy_value, context, v)
    if chunks is None:
        return None
    return "".join(t for t, _ in chunks).casefold() == context_text(actual).casefold()


def _string_like(policy_value: Any, actual: Any, context: Mapping[str, Any], v: bool):
    chunks = _text_values(policy_value, context, v)
    if chunks is None:
        return None
    return glob_chunks(chunks, context_text(actual))


def _arn_like(policy_value: Any, actual: Any, context: Mapping[str, Any], v: bool):
    if not isinstance(actual, str):
        return False
    return arn_matches(str(policy_value), actual, context, variables=v)


def _bool(policy_value: Any, actual: Any, _context: Mapping[str, Any], _v: bool):
    expected = context_text(policy_value).strip().lower()
    given = context_text(actual).strip().lower()
    return expected in ("true", "false") and expected == given


def _binary_equals(policy_value: Any, actual: Any, _context: Mapping[str, Any], _v: bool):
    try:
        expected = base64.b64decode(str(policy_value), validate=True)
    except (binascii.Error, ValueError):
        return False
    if isinstance(actual, bytes):
        return expected == actual
    try:
        return expected == base64.b64decode(str(actual), validate=True)
    except (binascii.Error, ValueError):
        return False


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _numeric(test: Callable[[Decimal, Decimal], bool]) -> Compare:
    def compare(policy_value: Any, actual: Any, _context: Mapping[str, Any], _v: bool):
        expected, given = _number(policy_value), _number(actual)
        if expected is None or given is None:
            return False
        return test(given, expected)

    return compare


_EPOCH = re.compile(r"^-?\d+(\.\d+)?\Z")


def parse_date(value: Any) -> datetime | None:
    """A date as IAM reads it: ISO 8601 (W3C profile) or epoch seconds; naive means UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return datetime.fromtimestamp(value, tz=UTC)
    text = str(value).strip()
    if _EPOCH.match(text):
        return datetime.fromtimestamp(float(text), tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(test: Callable[[datetime, datetime], bool]) -> Compare:
    def compare(policy_value: Any, actual: Any, _context: Mapping[str, Any], _v: bool):
        expected, given = parse_date(policy_value), parse_date(actual)
        if expected is None or given is None:
            return False
        return test(given, expected)

    return compare


def _ip_address(policy_value: Any, actual: Any, _context: Mapping[str, Any], _v: bool):
    try:
        network = ipaddress.ip_network(str(policy_value).strip(), strict=False)
        address = ipaddress.ip_address(str(actual).strip())
    except ValueError:
        return False
    return address.version == network.version and address in network


# name (lower-case) -> (name as AWS spells it, comparator, negated)
_OPERATORS: dict[str, tuple[str, Compare, bool]] = {
    name.lower(): (name, compare, negated)
    for name, compare, negated in (
        ("StringEquals", _string_equals, False),
        ("StringNotEquals", _string_equals, True),
        ("StringEqualsIgnoreCase", _string_equals_ignore_case, False),
        ("StringNotEqualsIgnoreCase", _string_equals_ignore_case, True),
        ("StringLike", _string_like, False),
        ("StringNotLike", _string_like, True),
        ("NumericEquals", _numeric(lambda a, b: a == b), False),
        ("NumericNotEquals", _numeric(lambda a, b: a == b), True),
        ("NumericLessThan", _numeric(lambda a, b: a < b), False),
        ("NumericLessThanEquals", _numeric(lambda a, b: a <= b), False),
        ("NumericGreaterThan", _numeric(lambda a, b: a > b), False),
        ("NumericGreaterThanEquals", _numeric(lambda a, b: a >= b), False),
        ("DateEquals", _date(lambda a, b: a == b), False),
        ("DateNotEquals", _date(lambda a, b: a == b), True),
        ("DateLessThan", _date(lambda a, b: a < b), False),
        ("DateLessThanEquals", _date(lambda a, b: a <= b), False),
        ("DateGreaterThan", _date(lambda a, b: a > b), False),
        ("DateGreaterThanEquals", _date(lambda a, b: a >= b), False),
        ("Bool", _bool, False),
        ("BinaryEquals", _binary_equals, False),
        ("IpAddress", _ip_address, False),
        ("NotIpAddress", _ip_address, True),
        ("ArnEquals", _arn_like, False),
        ("ArnLike", _arn_like, False),
        ("ArnNotEquals", _arn_like, True),
        ("ArnNotLike", _arn_like, True),
    )
}

KNOWN_OPERATORS: tuple[str, ...] = (*(name for name, _c, _n in _OPERATORS.values()), "Null")


@dataclass(frozen=True)
class Operator:
    """A parsed operator: set prefix, base name, IfExists."""

    written: str
    base: str  # as AWS spells it, e.g. "StringLike"; "Null"
    set_operator: str = ""  # "", "ForAllValues" or "ForAnyValue"
    if_exists: bool = False

    @property
    def negated(self) -> bool:
        return self.base != "Null" and _OPERATORS[self.base.lower()][2]


def parse_operator(written: str) -> Operator | None:
    """Parse e.g. "ForAnyValue:StringLikeIfExists"; None for an operator IAM does not define."""
    text = str(written).strip()
    set_operator = ""
    if ":" in text:
        prefix, _, text = text.partition(":")
        set_operator = _SET_PREFIXES.get(prefix.strip().lower(), "?")
        if set_operator == "?":
            return None
    if_exists = text.lower().endswith("ifexists")
    base = text[: -len("IfExists")] if if_exists else text
    if base.lower() == "null":
        if if_exists:
            return None
        return Operator(written, "Null", set_operator, False)
    known = _OPERATORS.get(base.lower())
    if known is None:
        return None
    return Operator(written, known[0], set_operator, if_exists)


def _present_values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]


def _null_test(expected: list[Any], present: bool, value: Any) -> bool:
    absent = not present or value is None or value == [] or value == ()
    for item in expected:
        text = context_text(item).strip().lower()
        if (text == "true" and absent) or (text == "false" and not absent):
            return True
    return False


def evaluate_condition(
    condition: Any, context: Mapping[str, Any], *, variables: bool
) -> ConditionResult:
    """Evaluate a statement's Condition block against the request context.

    `context` has lower-cased keys; `variables` says whether the policy's Version allows
    policy variables. Every operator and key is evaluated (no short-circuit), so that
    `failed` names every unmet (operator, key).
    """
    result = ConditionResult(holds=True)
    if condition is None or condition == {}:
        return result
    if not isinstance(condition, dict):
        result.holds = None
        result.unknown.append(str(condition))
        result.notes.append("The Condition element is not an object; it is not evaluated here.")
        return result
    for written, tests in condition.items():
        operator = parse_operator(written)
        if operator is None or not isinstance(tests, dict):
            result.unknown.append(str(written))
            result.notes.append(f"The condition operator {written} is not evaluated here.")
            continue
        for key, expected in tests.items():
            result.keys.append(key)
            present, value = lookup(context, key)
            holds, note = _key_holds(
                operator, key, as_list(expected), present, value, context, variables
            )
            if note:
                result.notes.append(note)
            if holds is None:
                result.undetermined.append((str(written), key))
            elif not holds:
                result.failed.append((str(written), key))
                if not present:
                    result.missing.append(key)
    if result.unknown:
        result.holds = None
    elif result.failed:
        result.holds = False
    elif result.undetermined:
        result.holds = None
    return result


def _is_unknown(value: Any) -> bool:
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(item is UNKNOWN for item in value)
    return value is UNKNOWN


def _names_unknown(expected: list[Any], context: Mapping[str, Any], variables: bool) -> bool:
    """Whether a policy variable in the expected values names a key whose value is UNKNOWN."""
    if not variables:
        return False
    for item in expected:
        for key in variable_keys(str(item)):
            present, value = lookup(context, key)
            if present and _is_unknown(value):
                return True
    return False


def _key_holds(
    operator: Operator,
    key: str,
    expected: list[Any],
    present: bool,
    value: Any,
    context: Mapping[str, Any],
    variables: bool,
) -> tuple[bool | None, str]:
    """Whether one key's test holds; None when it turns on an UNKNOWN value."""
    if present and (_is_unknown(value) or _names_unknown(expected, context, variables)):
        return None, ""
    if operator.base == "Null":
        return _null_test(expected, present, value), ""
    values = _present_values(value) if present else []
    if not present or (operator.set_operator and not values):
        if operator.if_exists:
            return True, ""
        if operator.set_operator == "ForAllValues":
            return True, ""
        if operator.set_operator == "ForAnyValue":
            return False, ""
        return (operator.negated and not present), ""
    _name, compare, negated = _OPERATORS[operator.base.lower()]
    unresolved = False

    def one_value(actual: Any) -> bool:
        nonlocal unresolved
        hits = False
        for item in expected:
            outcome = compare(item, actual, context, variables)
            if outcome is None:
                unresolved = True
            elif outcome:
                hits = True
        return not hits if negated else hits

    if operator.set_operator == "ForAllValues":
        holds = all([one_value(actual) for actual in values])
    elif operator.set_operator == "ForAnyValue":
        holds = any([one_value(actual) for actual in values])
    elif negated:
        holds = all([one_value(actual) for actual in values]) if values else True
    else:
        holds = any([one_value(actual) for actual in values])
    if unresolved:
        return False, (
            f"A policy variable in the {operator.written} test of {key} names a key absent "
            "from the request, so that test is false."
        )
    return holds, ""
