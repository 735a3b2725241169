"""Python values as wasmtime's component API wants them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wasmtime import component as wc
from wasmtime.component import _types


def _add_classes(self: Any, s: set[type]) -> None:
    # wasmtime-py 50 counts a payload-less case (an option's `none`) as `object`,
    # so for `result<option<record>, string>` every err string also "fits" ok and
    # lowering it fails ("value not valid for this variant"). Such a case crosses
    # as None, so NoneType is the class it stands for.
    if self._tagged():
        s.add(wc.Variant)
        return
    for _name, ty in self._cases():
        if ty is None:
            s.add(type(None))
        else:
            ty.add_classes(s)


_types.VariantLikeType.add_classes = _add_classes


def wit_record(fields: dict[str, Any]) -> wc.Record:
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
