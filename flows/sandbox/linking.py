"""Grants: which component import is served by what, checked before any event runs."""

from __future__ import annotations

from dataclasses import dataclass

from flows.errors import LinkError
from flows.project.config import FlowConfig
from flows.sandbox.capability import HOST_DEV, HOST_INTERFACES, HOST_LOG, HOST_MEMORY
from flows.sandbox.engine import LoadedComponent

WASI_PREFIX = "wasi:"


@dataclass
class FlowPlan:
    """A flow whose components are loaded and whose imports are all granted."""

    name: str
    config: FlowConfig
    function: LoadedComponent
    # granted integrations the function imports from, by integration name
    integrations: dict[str, LoadedComponent]
    # function import interface -> integration name, or "host"
    routes: dict[str, str]


def _host_import(flow: str, cfg: FlowConfig, who: str, iface: str, available: set[str]) -> None:
    if iface == HOST_MEMORY and not cfg.memory:
        raise LinkError(
            f"flow {flow!r}: {who} imports {iface}, but memory is not granted "
            f"(set flows.{flow}.memory: true)"
        )
    if iface not in available:
        raise LinkError(f"flow {flow!r}: {who} imports {iface}, which this host does not provide")


def _dev_import(flow: str, who: str, comp: LoadedComponent) -> None:
    if not comp.built.dev:
        raise LinkError(
            f"flow {flow!r}: {who} imports {HOST_DEV}, which only `flows dev` builds may import"
        )


def plan_flow(
    name: str,
    cfg: FlowConfig,
    function: LoadedComponent,
    integrations: dict[str, LoadedComponent],
    host_available: set[str],
) -> FlowPlan:
    """Check every import of the function and of its integrations against the
    grants in app.yaml; raise LinkError naming the flow and the interface."""
    if "handle" not in function.exports.get("", {}):
        raise LinkError(
            f"flow {name!r}: {cfg.function} does not export `handle`; "
            "its world must include flows:function/function@0.1.0"
        )
    granted: dict[str, str] = {}
    for iname in cfg.integrations:
        for iface in integrations[iname].exports:
            if iface:
                granted.setdefault(iface, iname)
    routes: dict[str, str] = {}
    used: dict[str, LoadedComponent] = {}
    for iface, funcs in function.imports.items():
        if iface.startswith(WASI_PREFIX) or not funcs:
            continue  # WASI is sandboxed by the host; type-only interfaces need nothing
        if iface in (HOST_LOG, HOST_MEMORY):
            _host_import(name, cfg, "its function", iface, host_available)
            routes[iface] = "host"
        elif iface == HOST_DEV:
            _dev_import(name, "its function", function)
            routes[iface] = "host"
        elif iface in HOST_INTERFACES:
            raise LinkError(
                f"flow {name!r}: its function imports host capability {iface}; "
                "functions reach capabilities only through integrations"
            )
        elif iface in granted:
            routes[iface] = granted[iface]
            used[granted[iface]] = integrations[granted[iface]]
        else:
            listed = ", ".join(cfg.integrations) or "none"
            raise LinkError(
                f"flow {name!r}: its function imports {iface}, which is not granted "
                f"(no integration in flows.{name}.integrations [{listed}] exports it)"
            )
    for iname, comp in used.items():
        for iface, funcs in comp.imports.items():
            if iface.startswith(WASI_PREFIX) or not funcs:
                continue
            if iface == HOST_DEV:
                _dev_import(name, f"integration {iname!r}", comp)
                continue
            if iface not in HOST_INTERFACES:
                raise LinkError(
                    f"flow {name!r}: integration {iname!r} imports {iface}; "
                    "integrations may import only flows:host capabilities"
                )
            _host_import(name, cfg, f"integration {iname!r}", iface, host_available)
    return FlowPlan(name, cfg, function, used, routes)
