"""flow.yaml: what a function declares about itself.

A function folder may hold a `flow.yaml`: a one-line description, the
integrations it needs, whether it uses memory, its default triggers, limits
and settings, and a JSON Schema for its settings. Templates are functions
with a flow.yaml; app.yaml's `settings:` for the function is validated
against the schema when app.yaml is loaded, and the schema's defaults are
filled in before the function sees them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from flows.errors import ConfigError
from flows.project.yamlfile import load_yaml

MANIFEST = "flow.yaml"
_KEYS = {
    "name", "description", "integrations", "memory", "on", "limits", "settings", "settings_schema",
}  # fmt: skip


@dataclass
class Manifest:
    path: Path
    name: str
    description: str = ""
    integrations: list[str] = field(default_factory=list)
    memory: bool = False
    on: dict[str, list[str]] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    settings_schema: dict[str, Any] | None = None

    @property
    def folder(self) -> Path:
        return self.path.parent


def load_manifest(folder: Path) -> Manifest | None:
    """The function's flow.yaml, or None when it has none; ConfigError when it is bad."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    unknown = sorted(str(k) for k in set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(unknown)}")
    m = Manifest(path=path, name=str(raw.get("name") or folder.name))
    m.description = str(raw.get("description") or "").strip()
    m.integrations = [str(i) for i in raw.get("integrations") or []]
    m.memory = bool(raw.get("memory", False))
    m.on = {str(k): list(v or []) for k, v in (raw.get("on") or {}).items()}
    m.limits = dict(raw.get("limits") or {})
    m.settings = dict(raw.get("settings") or {})
    schema = raw.get("settings_schema")
    if schema is not None:
        if not isinstance(schema, dict):
            raise ConfigError(f"{path}: settings_schema must be a JSON Schema object")
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            raise ConfigError(
                f"{path}: settings_schema is not a valid JSON Schema: {e.message}"
            ) from None
        m.settings_schema = schema
        problems = settings_problems(m.settings, schema, "settings")
        if problems:
            raise ConfigError(
                f"{path}: default settings do not match settings_schema: {problems[0]}"
            )
    return m


def settings_problems(settings: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Every way `settings` breaks `schema`, each as `key.path: reason`."""
    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for err in sorted(validator.iter_errors(settings), key=lambda e: list(e.absolute_path)):
        loc = ".".join([where, *(str(p) for p in err.absolute_path)])
        out.append(f"{loc}: {err.message}")
    return out


def with_defaults(settings: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`settings` with the schema's top-level defaults filled in."""
    out = copy.deepcopy(settings)
    for key, prop in (schema.get("properties") or {}).items():
        if key not in out and isinstance(prop, dict) and "default" in prop:
            out[key] = copy.deepcopy(prop["default"])
    return out
