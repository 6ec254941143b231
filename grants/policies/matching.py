"""Wildcard matching and policy variables, as IAM does them. Pure functions.

Rules from AWS's "IAM JSON policy elements: Action / Resource" and "IAM policy
elements: Variables and tags":

- `*` matches any run of characters (colons included), `?` exactly one;
- actions match case-insensitively, resources (ARNs) case-sensitively;
- variables `${key}` and `${key, 'default'}` are replaced only in policies with
  Version 2012-10-17 (2008-10-17, the default when Version is absent, reads them
  literally); `${*}`, `${?}`, `${$}` stand for a literal `*`, `?`, `$`; text a
  variable puts in is literal (its `*` is not a wildcard); a variable whose key is
  absent from the request, with no default, makes that value not match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

VARIABLES_VERSION = "2012-10-17"

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'([^']*)'\s*$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}

# One expanded pattern: chunks of text, each flagged literal (True) or wildcard-bearing.
Chunks = list[tuple[str, bool]]


def as_list(value: Any) -> list[Any]:
    """A policy element's value as a list (IAM accepts a string or a list of strings)."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def context_text(value: Any) -> str:
    """A context value as IAM compares it as a string: booleans lower-case, dates ISO 8601."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def lookup(context: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """(present, value) for a condition key; `context` must have lower-cased keys."""
    lowered = key.strip().lower()
    if lowered in context:
        return True, context[lowered]
    return False, None


def uses_variables(document: Mapping[str, Any]) -> bool:
    """Whether the document's Version enables policy variables."""
    return str(document.get("Version", "")).strip() == VARIABLES_VERSION


def variable_keys(text: str) -> list[str]:
    """The condition keys the policy variables in `text` name (not `${*}` and the like)."""
    keys: list[str] = []
    for match in _VARIABLE.finditer(text):
        body = match.group(1)
        if body.strip() in _SPECIAL:
            continue
        named = _DEFAULT.match(body)
        keys.append(named.group(1) if named else body.strip())
    return keys


def expand(text: str, context: Mapping[str, Any], *, variables: bool) -> Chunks | None:
    """Split `text` into chunks, replacing variables; None when a variable cannot be resolved.

    `context` has lower-cased keys. With `variables` False the text is taken literally
    (its wildcards still count).
    """
    if not variables or "${" not in text:
        return [(text, False)]
    chunks: Chunks = []
    position = 0
    for match in _VARIABLE.finditer(text):
        if match.start() > position:
            chunks.append((text[position : match.start()], False))
        position = match.end()
        body = match.group(1)
        if body.strip() in _SPECIAL:
            chunks.append((_SPECIAL[body.strip()], True))
            continue
        default: str | None = None
        named = _DEFAULT.match(body)
        key = named.group(1) if named else body.strip()
        if named:
            default = named.group(2)
        present, value = lookup(context, key)
        if present and isinstance(value, (list, tuple)):
            # Only single-valued keys can stand in a variable.
            present, value = (True, value[0]) if len(value) == 1 else (False, None)
        if present:
            chunks.append((context_text(value), True))
        elif default is not None:
            chunks.append((default, True))
        else:
            return None
    if position < len(text):
        chunks.append((text[position:], False))
    return chunks


def chunks_regex(chunks: Chunks) -> str:
    """A regular expression for expanded chunks: wildcards only in non-literal text."""
    parts: list[str] = []
    for text, literal in chunks:
        if literal:
            parts.append(re.escape(text))
            continue
        parts.extend(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in text)
    return "".join(parts)


def glob(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM wildcard match of a whole string: `*` any run of characters, `?` one character."""
    return _fullmatch(chunks_regex([(str(pattern), False)]), value, case=case)


def glob_chunks(chunks: Chunks, value: str, *, case: bool = True) -> bool:
    """Whether expanded chunks (from `expand`) match the whole of `value`."""
    return _fullmatch(chunks_regex(chunks), value, case=case)


def _fullmatch(regex: str, value: str, *, case: bool) -> bool:
    flags = re.DOTALL | (0 if case else re.IGNORECASE)
    return re.fullmatch(regex, value, flags) is not None


def action_matches_pattern(pattern: Any, action: str) -> bool:
    """Whether one Action entry (e.g. "sqs:List*", "*") names `action`; case-insensitive."""
    if not isinstance(pattern, str):
        return False
    return glob(pattern, action, case=False)


def resource_matches_pattern(
    pattern: Any, resource: str, context: Mapping[str, Any], *, variables: bool
) -> bool | None:
    """Whether one Resource entry matches `resource` (case-sensitive).

    None when a policy variable in it cannot be resolved (then it does not match).
    """
    if not isinstance(pattern, str):
        return False
    chunks = expand(pattern, context, variables=variables)
    if chunks is None:
        return None
    return glob_chunks(chunks, resource)


def arn_matches(
    pattern: str, value: str, context: Mapping[str, Any], *, variables: bool
) -> bool | None:
    """ArnEquals / ArnLike: each of the six colon-separated parts matched on its own.

    From "Condition operators: ARN": case-sensitive, and each part may hold `*` and
    `?`; a wildcard does not cross into another part, except in the last (resource)
    part, which may itself contain colons. None when a variable cannot be resolved.
    """
    chunks = expand(pattern, context, variables=variables)
    if chunks is None:
        return None
    value_parts = value.split(":", 5)
    pattern_parts = _split_chunks(chunks)
    if len(value_parts) != 6 or len(pattern_parts) != 6:
        # Not an ARN on one side: only an all-wildcard pattern matches it.
        return glob_chunks(chunks, value) and "".join(t for t, _ in chunks) == "*"
    return all(
        glob_chunks(part, actual) for part, actual in zip(pattern_parts, value_parts, strict=True)
    )


def _split_chunks(chunks: Chunks) -> list[Chunks]:
    """Split expanded chunks at colons (at most 5 splits, like an ARN)."""
    parts: list[Chunks] = [[]]
    for text, literal in chunks:
        pieces = text.split(":") if len(parts) < 6 else [text]
        for i, piece in enumerate(pieces):
            if i > 0:
                if len(parts) < 6:
                    parts.append([])
                else:
                    parts[-1].append((":", True))
            if piece:
                parts[-1].append((piece, literal))
    return parts
