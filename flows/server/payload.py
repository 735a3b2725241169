"""What ingest reads from a webhook body, checked before anything is stored.

A signed body can still be hostile or broken. Ingest and the worker read a
few fields (ids, numbers, names, the comment and thread fields feedback
uses); each is checked here for its type and bounds, so a body either
passes and can be stored and run, or is kept as `malformed` with the reason."""

from __future__ import annotations

import json
from typing import Any

MAX_ID = 2**63 - 1  # ids are BIGINT
MAX_NUMBER = 2**31 - 1  # pull request and issue numbers are INTEGER

# path -> (type, bound): an int's maximum, or a string's length
FIELDS: dict[str, tuple[type, int]] = {
    "action": (str, 64),
    "installation.id": (int, MAX_ID),
    "installation.account.login": (str, 255),
    "installation.account.type": (str, 32),
    "repository.full_name": (str, 255),
    "pull_request.number": (int, MAX_NUMBER),
    "pull_request.merged": (bool, 0),
    "issue.number": (int, MAX_NUMBER),
    "comment.id": (int, MAX_ID),
    "comment.in_reply_to_id": (int, MAX_ID),
    "comment.body": (str, 262_144),
    "comment.author_association": (str, 64),
    "comment.user.login": (str, 255),
    "thread.comments[].id": (int, MAX_ID),
    "repositories[].id": (int, MAX_ID),
    "repositories[].full_name": (str, 255),
    "repositories_added[].id": (int, MAX_ID),
    "repositories_added[].full_name": (str, 255),
    "repositories_removed[].id": (int, MAX_ID),
}


class Malformed(ValueError):
    """A body ingest cannot use; the message says which field and why."""


def parse(body: bytes) -> dict[str, Any]:
    """The JSON object in `body` (UTF-8, as GitHub sends), or Malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Malformed(f"not UTF-8: {e}") from None
    try:
        payload = json.loads(text)
    except RecursionError:
        raise Malformed("JSON nested too deeply") from None
    except ValueError as e:
        raise Malformed(f"malformed JSON: {e}") from None
    if not isinstance(payload, dict):
        raise Malformed(f"the payload is a JSON {type(payload).__name__}, not an object")
    for path, (kind, bound) in FIELDS.items():
        for where, value in _values(payload, path.split(".")):
            _check(where, value, kind, bound)
    return payload


def check_text(where: str, value: str, limit: int) -> None:
    """A string that can be stored: at most `limit` characters of valid
    Unicode without NUL (PostgreSQL refuses NUL and lone surrogates)."""
    if len(value) > limit:
        raise Malformed(f"{where}: {len(value)} characters, over {limit}")
    if "\x00" in value:
        raise Malformed(f"{where}: contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Malformed(f"{where}: contains a lone surrogate (not valid Unicode)") from None


def _values(node: Any, parts: list[str], where: str = "") -> list[tuple[str, Any]]:
    """(path, value) for every value at `parts`; containers on the way must be
    objects (or arrays, for `name[]`), absent or null ones end the path."""
    if not parts:
        return [(where, node)]
    name, rest = parts[0], parts[1:]
    many = name.endswith("[]")
    name = name.removesuffix("[]")
    here = f"{where}.{name}" if where else name
    if not isinstance(node, dict):
        raise Malformed(f"{where}: expected an object, got {_kind(node)}")
    child = node.get(name)
    if child is None:
        return []
    if not many:
        return _values(child, rest, here) if rest else [(here, child)]
    if not isinstance(child, list):
        raise Malformed(f"{here}: expected an array, got {_kind(child)}")
    found = []
    for i, item in enumerate(child):
        found += _values(item, rest, f"{here}[{i}]") if rest else [(f"{here}[{i}]", item)]
    return found


def _check(where: str, value: Any, kind: type, bound: int) -> None:
    if kind is bool:
        if not isinstance(value, bool):
            raise Malformed(f"{where}: expected true or false, got {_kind(value)}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Malformed(f"{where}: expected an integer, got {_kind(value)}")
        if not 0 < value <= bound:
            raise Malformed(f"{where}: {value} is out of range (1 to {bound})")
    elif not isinstance(value, str):
        raise Malformed(f"{where}: expected a string, got {_kind(value)}")
    else:
        check_text(where, value, bound)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )
