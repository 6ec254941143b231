"""AWS's input rules as botocore ships them: service-model constraints and partition data.

botocore validates only minimum lengths client-side; the maxima and patterns in
its service models are enforced by AWS. This module reads them (once, cached)
and exposes plain data, so nothing outside the gateway imports botocore:

- `member_rule(service, operation, member)`: min/max length and pattern of the
  shape an API parameter is sent as (e.g. iam CreateRole RoleName →
  `roleNameType`).
- `compile_java_pattern(pattern)`: AWS's patterns use Java regex semantics
  (`\\w` and `\\d` are ASCII only, `\\p{L}` is a Unicode class, `\\uXXXX` takes
  exactly four hex digits); translated to Python `re` and matched in full.
- `partition_regions()` / `region_partition(region)`: every region of every
  partition in botocore's endpoints and partitions data.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
import unicodedata
from dataclasses import dataclass
from typing import Any

import botocore.loaders
import botocore.model
from botocore.exceptions import DataNotFoundError
from botocore.model import OperationNotFoundError

# --- the service models ---------------------------------------------------------------


@dataclass(frozen=True)
class ShapeRule:
    """The constraints botocore's model gives one API parameter's shape.

    `pattern` is the model's Java regex source ("" when the model has none);
    lengths are in characters, None when the model is silent.
    """

    service: str
    operation: str
    member: str
    shape: str
    min_length: int | None
    max_length: int | None
    pattern: str

    def pattern_matches(self, value: str) -> bool:
        """Whether the whole of `value` matches the pattern (True when there is none)."""
        return not self.pattern or compile_java_pattern(self.pattern).fullmatch(value) is not None

    def refused_characters(self, value: str) -> list[str]:
        """The distinct characters of `value` the pattern's character class refuses.

        Only for patterns that are one character class repeated (`[\\w+=,.@-]+`,
        the usual IAM form); empty for other patterns.
        """
        single = _SINGLE_CLASS.fullmatch(self.pattern)
        if not single:
            return []
        one = compile_java_pattern(single.group(1))
        return list(dict.fromkeys(c for c in value if not one.fullmatch(c)))


_SINGLE_CLASS = re.compile(r"\^?(\[(?:\\.|[^\]\\])*\])[*+]\$?")


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


@functools.cache
def service_model(service: str) -> botocore.model.ServiceModel:
    """botocore's service model for `service` (e.g. "iam"), loaded once per process."""
    data = _loader().load_service_model(service, "service-2")
    return botocore.model.ServiceModel(data, service_name=service)


@functools.cache
def member_rule(service: str, operation: str, member: str) -> ShapeRule:
    """The rule of `member` of `operation`'s input in botocore's model of `service`.

    Raises KeyError when the model has no such operation or member.
    """
    model = service_model(service)
    try:
        shape = model.operation_model(operation).input_shape.members[member]
    except OperationNotFoundError:
        raise KeyError(f"{service} has no operation {operation}") from None
    metadata: dict[str, Any] = shape.metadata
    return ShapeRule(
        service=service,
        operation=operation,
        member=member,
        shape=shape.name,
        min_length=metadata.get("min"),
        max_length=metadata.get("max"),
        pattern=metadata.get("pattern", ""),
    )


def service_patterns(service: str) -> list[str]:
    """Every distinct pattern in botocore's model of `service` (for testing the translation)."""
    model = service_model(service)
    found = (model.shape_for(name).metadata.get("pattern") for name in model.shape_names)
    return sorted({p for p in found if p})


# --- Java regex → Python re ------------------------------------------------------------

# Java's `.` excludes every line terminator, not only \n.
_JAVA_DOT = r"[^\n\r\u0085\u2028\u2029]"
_LINE_TERMINATORS = "\n\r\u0085\u2028\u2029"
_HORIZONTAL_SPACE = [(0x20, 0x20), (0x09, 0x09), (0xA0, 0xA0), (0x1680, 0x1680)]
_HORIZONTAL_SPACE += [(0x180E, 0x180E), (0x2000, 0x200A), (0x202F, 0x202F), (0x205F, 0x205F)]
_HORIZONTAL_SPACE += [(0x3000, 0x3000)]
_VERTICAL_SPACE = [(0x0A, 0x0D), (0x85, 0x85), (0x2028, 0x2029)]

# Java's POSIX classes are US-ASCII only (without UNICODE_CHARACTER_CLASS).
_POSIX: dict[str, list[tuple[int, int]]] = {
    "Lower": [(0x61, 0x7A)],
    "Upper": [(0x41, 0x5A)],
    "ASCII": [(0x00, 0x7F)],
    "Alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "Digit": [(0x30, 0x39)],
    "Alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "Punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "Graph": [(0x21, 0x7E)],
    "Print": [(0x20, 0x7E)],
    "Blank": [(0x09, 0x09), (0x20, 0x20)],
    "Cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "XDigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
    "Space": [(0x09, 0x0D), (0x20, 0x20)],
}


@functools.cache
def _general_categories() -> dict[str, tuple[tuple[int, int], ...]]:
    """Code point ranges of every Unicode general category, one- and two-letter."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    start, current = 0, unicodedata.category("\x00")
    for code in range(1, sys.maxunicode + 2):
        category = unicodedata.category(chr(code)) if code <= sys.maxunicode else ""
        if category != current:
            ranges.setdefault(current, []).append((start, code - 1))
            start, current = code, category
    merged: dict[str, list[tuple[int, int]]] = dict(ranges)
    for name, spans in ranges.items():
        merged.setdefault(name[0], []).extend(spans)
    return {name: tuple(_merge(spans)) for name, spans in merged.items()}


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for low, high in sorted(spans):
        if result and low <= result[-1][1] + 1:
            result[-1] = (result[-1][0], max(high, result[-1][1]))
        else:
            result.append((low, high))
    return result


def _complement(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    result, next_low = [], 0
    for low, high in _merge(spans):
        if low > next_low:
            result.append((next_low, low - 1))
        next_low = high + 1
    if next_low <= sys.maxunicode:
        result.append((next_low, sys.maxunicode))
    return result


def _property_ranges(name: str) -> list[tuple[int, int]]:
    """The ranges of a Java `\\p{name}` class: a general category or a POSIX class."""
    for prefix in ("general_category=", "gc=", "Is"):
        if name.startswith(prefix) and name[len(prefix) :] in _general_categories():
            name = name[len(prefix) :]
    if name in _POSIX:
        return list(_POSIX[name])
    if name in _general_categories() and len(name) <= 2:
        return list(_general_categories()[name])
    raise ValueError(f"Unsupported Java regex property \\p{{{name}}}")


def _class_body(spans: list[tuple[int, int]]) -> str:
    return "".join(
        _char(low) if low == high else f"{_char(low)}-{_char(high)}" for low, high in spans
    )


def _char(code: int) -> str:
    return f"\\U{code:08x}"


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.source = pattern
        self.i = 0

    def error(self, what: str) -> ValueError:
        return ValueError(f"Unsupported Java regex {what} at {self.i} in {self.source!r}")

    def take(self) -> str:
        char = self.source[self.i]
        self.i += 1
        return char

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.source[j] if j < len(self.source) else ""

    def hex_digits(self, count: int) -> int:
        digits = self.source[self.i : self.i + count]
        if len(digits) != count or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise self.error("escape")
        self.i += count
        return int(digits, 16)

    def translate(self) -> str:
        out: list[str] = []
        while self.i < len(self.source):
            char = self.take()
            if char == "\\":
                out.append(self.escape(in_class=False))
            elif char == "[":
                out.append(self.character_class())
            elif char == ".":
                out.append(_JAVA_DOT)
            elif char == "(" and self.source.startswith("?<", self.i) and self.peek(2) not in "=!":
                out.append("(?P<")
                self.i += 2
            else:
                out.append(char)
        return "".join(out)

    def escape(self, *, in_class: bool) -> str:
        """One escape after its backslash; inside a class, as class-body text."""
        if self.i >= len(self.source):
            raise self.error("trailing backslash")
        char = self.take()
        spans: list[tuple[int, int]] | None = None
        if char in "pP":
            if self.peek() == "{":
                end = self.source.find("}", self.i)
                if end < 0:
                    raise self.error("property")
                name, self.i = self.source[self.i + 1 : end], end + 1
            else:
                name = self.take()
            spans = _property_ranges(name)
            if char == "P":
                spans = _complement(spans)
        elif char == "h":
            spans = _HORIZONTAL_SPACE
        elif char == "v":
            spans = _VERTICAL_SPACE
        elif char == "u":
            return _char(self.hex_digits(4))  # exactly four digits, as in Java
        elif char == "x":
            if self.peek() == "{":
                end = self.source.find("}", self.i)
                digits = self.source[self.i + 1 : end]
                if end < 0 or not digits or int(digits, 16) > sys.maxunicode:
                    raise self.error("escape")
                self.i = end + 1
                return _char(int(digits, 16))
            return _char(self.hex_digits(2))
        elif char == "0":
            digits = ""
            while len(digits) < 3 and self.peek() in "01234567" and self.peek():
                if len(digits) == 2 and digits[0] > "3":
                    break
                digits += self.take()
            if not digits:
                raise self.error("octal escape")
            return _char(int(digits, 8))
        elif char == "c":
            return _char(ord(self.take()) ^ 64)
        elif char == "e":
            return _char(0x1B)
        elif char == "Q":
            end = self.source.find("\\E", self.i)
            end = len(self.source) if end < 0 else end
            literal, self.i = self.source[self.i : end], min(end + 2, len(self.source))
            return "".join(_char(ord(c)) for c in literal)
        elif not in_class and char == "z":
            return r"\Z"
        elif not in_class and char == "Z":
            return r"(?=(?:\r\n|[" + _LINE_TERMINATORS + r"])?\Z)"
        elif not in_class and char == "R":
            return r"(?:\r\n|[\n\x0b\x0c\r\u0085\u2028\u2029])"
        elif char in "GXHVkN":
            raise self.error(f"escape \\{char}")
        if spans is not None:
            body = _class_body(spans)
            return body if in_class else f"[{body}]"
        if char.isalnum() and char not in "wWdDsSbBAtnrfa123456789":
            raise self.error(f"escape \\{char}")
        return "\\" + char

    def character_class(self) -> str:
        out = ["["]
        if self.peek() == "^":
            out.append(self.take())
        first = True
        while True:
            if self.i >= len(self.source):
                raise self.error("unclosed character class")
            char = self.take()
            if char == "]" and not first:
                break
            first = False
            if char == "\\":
                is_class = self.peek() in "wWdDsSpPhv"
                out.append(self.escape(in_class=True))
                if is_class and self.peek() == "-":
                    # Java reads a "-" after a class such as \w as a literal.
                    out.append("\\" + self.take())
            elif char == "[":
                raise self.error("nested character class")
            elif char == "&" and self.peek() == "&":
                raise self.error("class intersection")
            elif char in "&~|]":
                out.append("\\" + char)
            else:
                out.append(char)
        out.append("]")
        return "".join(out)


def java_pattern_to_python(pattern: str) -> str:
    """Python `re` source (to compile with re.ASCII) matching what Java's regex matches.

    Java semantics kept: `\\w \\d \\s \\b` are ASCII (re.ASCII); `\\p{L}`-style
    general categories and POSIX classes (`\\p{Alpha}`: ASCII) become explicit
    ranges; `\\uXXXX` takes exactly four hex digits (so the model's
    `\\u10000` is U+1000 followed by "0"); `.` excludes every line terminator;
    `\\Q…\\E`, `\\x{…}`, `\\0oct`, `\\cX`, `\\e`, `\\h`, `\\v`, `\\R`, `\\z`, `(?<name>…)`.
    Raises ValueError for constructs Python cannot express the same way (nested
    classes, `&&` intersections, `\\G`, scripts and blocks).
    """
    return _Translator(pattern).translate()


@functools.cache
def compile_java_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled translation of a Java regex; use `.fullmatch`, as AWS matches in full."""
    return re.compile(java_pattern_to_python(pattern), re.ASCII)


# --- partitions and regions ------------------------------------------------------------


@functools.cache
def partition_regions() -> dict[str, frozenset[str]]:
    """Every region of every partition botocore knows: {"aws": {...}, "aws-cn": {...}, ...}.

    The union of botocore's endpoints.json and partitions.json, keeping only
    names that match their partition's regionRegex (partitions.json also lists
    pseudo-regions such as "aws-global").
    """
    found: dict[str, set[str]] = {}
    regexes: dict[str, str] = {}
    sources: list[tuple[str, dict[str, Any]]] = [("partition", _loader().load_data("endpoints"))]
    with contextlib.suppress(DataNotFoundError):  # older botocore: endpoints.json only
        sources.append(("id", _loader().load_data("partitions")))
    for key, data in sources:
        for partition in data["partitions"]:
            name = partition[key]
            regexes.setdefault(name, partition.get("regionRegex", ""))
            found.setdefault(name, set()).update(partition.get("regions", {}))
    return {
        name: frozenset(
            r
            for r in regions
            if not regexes[name] or re.fullmatch(regexes[name].strip("^$"), r, re.ASCII)
        )
        for name, regions in found.items()
    }


def region_partition(region: str) -> str | None:
    """The partition `region` belongs to ("aws", "aws-cn", ...), or None for no real region."""
    for name, regions in partition_regions().items():
        if region in regions:
            return name
    return None
