"""A small JSON Schema validator (the keywords output schemas use), pure Python.

Supported: type, enum, const, properties, required, additionalProperties,
items, minItems, maxItems, uniqueItems, minLength, maxLength, pattern,
minimum, maximum, exclusiveMinimum, exclusiveMaximum, anyOf, oneOf, allOf,
and $ref to "#/$defs/..." or "#/definitions/...". Other keywords are ignored,
as JSON Schema says of unknown ones.
"""

import json
import re

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class SchemaError(ValueError):
    """The schema itself is unusable."""


def check_schema(schema) -> None:
    if not isinstance(schema, dict):
        raise SchemaError("a JSON schema is a JSON object")
    kinds = schema.get("type")
    for kind in kinds if isinstance(kinds, list) else [kinds] if kinds else []:
        if kind not in _TYPES:
            raise SchemaError(f"unknown type {kind!r}")


def validate(value, schema, root=None, path="$"):
    """The first way `value` breaks `schema`, as "path: reason", or None."""
    root = schema if root is None else root
    if "$ref" in schema:
        return validate(value, _resolve(schema["$ref"], root), root, path)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_TYPES[k](value) for k in kinds):
            return f"{path}: expected {' or '.join(kinds)}, got {_name(value)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: {_short(value)} is not one of {schema['enum']}"
    if "const" in schema and value != schema["const"]:
        return f"{path}: must be {schema['const']!r}"
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            errors = [validate(value, s, root, path) for s in schema[key]]
            ok = sum(e is None for e in errors)
            if key == "allOf" and ok < len(errors):
                return next(e for e in errors if e)
            if key == "anyOf" and ok == 0:
                return errors[0]
            if key == "oneOf" and ok != 1:
                return f"{path}: matches {ok} of the oneOf schemas, not exactly one"
    if isinstance(value, dict):
        return _object(value, schema, root, path)
    if isinstance(value, list):
        return _array(value, schema, root, path)
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{path}: shorter than {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{path}: longer than {schema['maxLength']} characters"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{path}: does not match {schema['pattern']!r}"
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path}: below the minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path}: above the maximum {schema['maximum']}"
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            return f"{path}: must be over {schema['exclusiveMinimum']}"
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            return f"{path}: must be under {schema['exclusiveMaximum']}"
    return None


def _object(value, schema, root, path):
    for key in schema.get("required", []):
        if key not in value:
            return f"{path}: missing required property {key!r}"
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            err = validate(item, props[key], root, f"{path}.{key}")
        elif extra is False:
            err = f"{path}: unexpected property {key!r}"
        elif isinstance(extra, dict):
            err = validate(item, extra, root, f"{path}.{key}")
        else:
            err = None
        if err:
            return err
    return None


def _array(value, schema, root, path):
    if len(value) < schema.get("minItems", 0):
        return f"{path}: fewer than {schema['minItems']} items"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return f"{path}: more than {schema['maxItems']} items"
    if schema.get("uniqueItems"):
        seen = [json.dumps(v, sort_keys=True) for v in value]
        if len(set(seen)) != len(seen):
            return f"{path}: items are not unique"
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            err = validate(item, items, root, f"{path}[{i}]")
            if err:
                return err
    return None


def _resolve(ref, root):
    m = re.match(r"^#/(\$defs|definitions)/([^/]+)$", ref)
    if not m or m.group(2) not in root.get(m.group(1), {}):
        raise SchemaError(f"cannot resolve $ref {ref!r}")
    return root[m.group(1)][m.group(2)]


def _name(value):
    for kind, test in _TYPES.items():
        if kind != "number" and test(value):
            return kind
    return "number"


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def trim(value, schema, root=None):
    """`value` with arrays cut to their maxItems and strings to their
    maxLength, as the schema bounds them (a model that ignores the bounds
    loses the excess instead of the whole reply)."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return value
    if "$ref" in schema:
        try:
            return trim(value, _resolve(schema["$ref"], root), root)
        except (KeyError, ValueError):
            return value
    if isinstance(value, str) and isinstance(schema.get("maxLength"), int):
        return value[: schema["maxLength"]]
    if isinstance(value, list):
        if isinstance(schema.get("maxItems"), int):
            value = value[: schema["maxItems"]]
        items = schema.get("items")
        return [trim(v, items, root) for v in value] if isinstance(items, dict) else value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        return {k: trim(v, props[k], root) if k in props else v for k, v in value.items()}
    return value


def prune(value, schema, root=None) -> tuple[object, int]:
    """`value` without the array items that break their item schema, and how
    many were dropped (a reply with one bad finding keeps the good ones)."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return value, 0
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        kept, dropped = [], 0
        for item in value:
            item, n = prune(item, schema["items"], root)
            dropped += n
            if validate(item, schema["items"], root) is None:
                kept.append(item)
            else:
                dropped += 1
        return kept, dropped
    if isinstance(value, dict):
        props, out, dropped = schema.get("properties") or {}, {}, 0
        for k, v in value.items():
            out[k], n = prune(v, props[k], root) if k in props else (v, 0)
            dropped += n
        return out, dropped
    return value, 0
