"""Python values as wasmtime's component API wants them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wasmtime import component as wc


def record(fields: dict[str, Any]) -> wc.Record:
    """A record with WIT field names (kebab-case) as attributes."""
    r = wc.Record()
    for name, value in fields.items():
        setattr(r, name, value)
    return r


def result_wrappers(ty: Any) -> tuple[Callable[[Any], Any], Callable[[str], Any]] | None:
    """(ok, err) makers for a `result<..>` type, or None for other types.

    wasmtime passes a result as Variant('ok'|'err', payload) only when both
    cases map to the same Python type; otherwise the payload crosses bare.
    """
    if not isinstance(ty, wc.ResultType):
        return None
    if ty._tagged():
        return (lambda v: wc.Variant("ok", v)), (lambda m: wc.Variant("err", m))
    return (lambda v: v), (lambda m: m)
