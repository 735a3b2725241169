"""Run one flow on one event: fresh stores, host-mediated links, clear failures."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime import component as wc

from flows.project.config import Limits
from flows.project.events import Event
from flows.sandbox.build import ComponentSource, python_sources
from flows.sandbox.capability import HOST_DEV, HOST_LOG, HostError
from flows.sandbox.engine import FUEL_UNLIMITED, Engine, GuestOutput, LoadedComponent
from flows.sandbox.linking import FlowPlan
from flows.sandbox.log import Log
from flows.sandbox.report import (
    MAX_RESULT,
    Failure,
    RunContext,
    RunJournal,
    RunReport,
    llm_summary,
    new_run_id,
)
from flows.sandbox.values import result_wrappers, wit_record

CapabilityFactory = Callable[[RunContext, RunJournal], dict[str, Any]]
MONOTONIC_CLOCK = "wasi:clocks/monotonic-clock@"
_FRAME = re.compile(r'File "/(\d+)/([^"]+)", line (\d+)')


def classify(error: Exception, component: str, stderr: str, limits: Limits) -> Failure:
    """Map a wasmtime error plus the guest's stderr to a clear failure reason."""
    text = str(error)
    if "interrupt" in text and "wasm trap" in text:
        return Failure(
            "timeout", component, f"{component} ran past the deadline of {limits.timeout_s:g} s "
            "(limits.timeout_s)",
        )  # fmt: skip
    if "all fuel consumed" in text:
        return Failure(
            "fuel", component, f"{component} used all its fuel ({limits.fuel} units, limits.fuel)"
        )
    if "MemoryError" in stderr or "exceeds memory limits" in text or "memory limit" in text:
        return Failure(
            "memory", component, f"{component} ran out of memory: the cap is "
            f"{limits.memory_mb} MB (limits.memory_mb)",
        )  # fmt: skip
    if "Traceback (most recent call last)" in stderr:
        tb = stderr[stderr.rindex("Traceback (most recent call last)") :]
        tb = tb.split("\nthread '", 1)[0]  # the runtime's panic note follows the traceback
        lines = [ln for ln in tb.splitlines() if ln.strip()]
        exc_line = next(
            (ln for ln in reversed(lines) if re.match(r"^[A-Za-z_][\w.]*(: |$)", ln)), lines[-1]
        )
        frames = _FRAME.findall(tb)
        where = f" at {frames[-1][1]}:{frames[-1][2]}" if frames else ""
        return Failure("exception", component, f"{component} raised {exc_line.strip()}{where}")
    boundary = _boundary_failure(text, stderr, component)
    if boundary is not None:
        return boundary
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    frames = re.findall(r"^\s+\d+: 0x[0-9a-f]+ - (.+)$", text, re.MULTILINE)[:3]
    detail = f" (in {' <- '.join(frames)})" if frames else ""
    return Failure("trap", component, f"{component} trapped: {first}{detail}")


_PYERR = re.compile(r"PyErr \{ type: <class '([\w.]+)'>, value: [\w.]+\((.*?)\), traceback")


def _boundary_failure(text: str, stderr: str, component: str) -> Failure | None:
    """A value the guest's runtime could not convert to a WIT type when calling
    an import (a negative or too large number for a u32, a string for an int):
    name the function, the type and the problem, not the abort it ends in."""
    err = _PYERR.search(stderr)
    if err is None:
        return None
    func = re.search(r"!adapter ([\w-]+)", text)
    ty = re.search(r"wit_dylib_(?:pop|push)_(\w+)", text)
    called = f"called `{func.group(1)}`" if func else "called an import"
    fits = f"its WIT type {ty.group(1)}" if ty else "its WIT type"
    value = err.group(2)
    if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]  # the exception's repr quotes its message
    return Failure(
        "bad_value", component,
        f"{component} {called} with a value that does not fit {fits}: {err.group(1)}: {value}",
    )  # fmt: skip


class DevSources:
    """flows:dev/dev-sources for one component of a `flows dev` build."""

    interface = HOST_DEV

    def __init__(self, source: ComponentSource) -> None:
        self.source = source

    def sources(self) -> list[tuple[str, str]]:
        return python_sources(self.source)


class _Sandbox:
    """The stores, outputs and instances of one run."""

    def __init__(self, engine: Engine, limits: Limits, ctx: RunContext, rec: RunJournal) -> None:
        self.engine = engine
        self.limits = limits
        self.ctx = ctx
        self.rec = rec
        self.outputs: dict[str, GuestOutput] = {}
        self.stores: dict[str, wasmtime.Store] = {}

    def store(self, label: str) -> wasmtime.Store:
        out = self.engine.new_output()
        self.outputs[label] = out
        store = self.engine.new_store(
            out, self.ctx.remaining(), self.limits.memory_mb, self.limits.fuel
        )
        self.stores[label] = store
        return store

    def stderr(self, label: str) -> str:
        return self.outputs[label].read()[1] if label in self.outputs else ""

    def fail_from(self, error: Exception, label: str) -> None:
        self.rec.fail(classify(error, label, self.stderr(label), self.limits))

    def link_host(
        self, linker: wc.Linker, comp: LoadedComponent, label: str, caps: dict[str, Any]
    ) -> None:
        linker.add_wasip2()
        self._link_clock(linker, comp, label)
        with linker.root() as root:
            for iface, funcs in comp.imports.items():
                if iface == HOST_LOG:
                    cap = Log(self.rec, label)
                elif iface == HOST_DEV and comp.built.dev:
                    cap = DevSources(comp.built.source)
                else:
                    cap = caps.get(iface)
                if iface.startswith("wasi:") or not funcs or cap is None:
                    continue
                with root.add_instance(iface) as inst:
                    for fname, fty in funcs.items():
                        inst.add_func(fname, self._host_func(cap, iface, fname, fty.result))

    def _link_clock(self, linker: wc.Linker, comp: LoadedComponent, label: str) -> None:
        """The guest's monotonic clock, with the host's: it reads the time, but
        cannot block. Epoch interruption cannot stop a guest parked in a WASI
        wait (time.sleep), so a wait would hold the worker past the deadline;
        instead it fails the run at once, saying so."""
        for iface in comp.imports:
            if not iface.startswith(MONOTONIC_CLOCK):
                continue
            linker.allow_shadowing = True
            with linker.root() as root, root.add_instance(iface) as inst:
                inst.add_func("now", lambda _store: time.monotonic_ns())
                inst.add_func("resolution", lambda _store: 1)
                inst.add_func("subscribe-duration", self._refuse_wait(label, lambda ns: ns))
                inst.add_func(
                    "subscribe-instant",
                    self._refuse_wait(label, lambda at: at - time.monotonic_ns()),
                )
            linker.allow_shadowing = False

    def _refuse_wait(self, label: str, wait_ns: Callable[[int], int]):
        def call(_store: Any, value: int) -> Any:
            seconds = max(0, wait_ns(value)) / 1e9
            self.rec.fail(
                Failure(
                    "blocked",
                    label,
                    f"{label} tried to wait {seconds:.3g} s on the clock (time.sleep or a "
                    "timed wait); a flow may not block its worker: the host paces GitHub "
                    f"and model calls itself, and the run ends at limits.timeout_s "
                    f"({self.limits.timeout_s:g} s)",
                )
            )
            raise RuntimeError("waiting on the clock is not allowed in a flow")

        return call

    def _host_func(self, cap: Any, iface: str, fname: str, result_ty: Any):
        method = getattr(cap, fname.replace("-", "_"))
        wrap = result_wrappers(result_ty)
        who = f"host:{iface.split('/')[-1].split('@')[0]}"

        def call(_store: Any, *args: Any) -> Any:
            try:
                value = method(*args)
            except HostError as e:
                if e.transient:
                    self.rec.transient(f"{who} {fname}: {e}", e.retry_after)
                if wrap is None:
                    self.rec.fail(Failure("host_error", who, f"{fname}: {e}"))
                    raise
                self.rec.log(who, "warn", f"{fname}: {e}")
                return wrap[1](self.rec.redact(str(e)))
            except Exception as e:
                self.rec.fail(
                    Failure("host_error", who, f"{fname} failed: {type(e).__name__}: {e}")
                )
                raise
            value = self.rec.redact(value)  # nothing secret crosses into a guest
            return wrap[0](value) if wrap else value

        return call

    def forwarder(self, func: wc.Func, store: wasmtime.Store, label: str):
        """A host function that calls an integration's export in its own store."""

        def call(_store: Any, *args: Any) -> Any:
            try:
                value = func(store, *args)
                func.post_return(store)
            except wasmtime.WasmtimeError as e:
                self.fail_from(e, label)
                raise
            return value

        return call

    def collect(self) -> dict[str, Any]:
        fuel = {}
        for label, out in self.outputs.items():
            stdout, stderr = out.read()
            for stream, text in (("stdout", stdout), ("stderr", stderr)):
                for line in text.splitlines():
                    if line.strip():
                        self.rec.log(label, stream, line)
            if out.truncated:
                self.rec.log(label, "warn", "output over 256 KiB was cut")
            store = self.stores.get(label)
            if store is not None:
                budget = self.limits.fuel or FUEL_UNLIMITED
                with contextlib.suppress(wasmtime.WasmtimeError):
                    fuel[label] = budget - store.get_fuel()
        return fuel

    def close(self) -> None:
        for out in self.outputs.values():
            out.close()
        for store in self.stores.values():
            store.close()


def run_plan(
    engine: Engine,
    plan: FlowPlan,
    event: Event,
    capabilities: CapabilityFactory,
    journal: RunJournal,
    dry_run: bool = False,
    run_id: str | None = None,
    inspect: Callable[[], None] | None = None,
) -> RunReport:
    """Run `plan` on `event` in fresh sandboxes. Never raises for guest faults.

    `inspect`, if given, is called after the call and before teardown (tests
    use it to look at guest memory while it is still mapped)."""
    start = time.monotonic()
    limits = plan.config.limits
    ctx = RunContext(
        run_id=run_id or new_run_id(),
        flow=plan.name,
        event_name=event.name,
        repository=event.repository,
        installation_id=event.installation_id,
        dry_run=dry_run,
        deadline=start + limits.timeout_s,
        thread=event.thread,
    )
    box = _Sandbox(engine, limits, ctx, journal)
    timings: dict[str, float] = {}
    result: Any = None
    fuel: dict[str, int] = {}
    try:
        caps = capabilities(ctx, journal)
        t0 = time.perf_counter()
        instances: dict[str, tuple[wasmtime.Store, wc.Instance]] = {}
        for iname, comp in plan.integrations.items():
            label = f"integration:{iname}"
            store = box.store(label)
            linker = wc.Linker(engine.engine)
            box.link_host(linker, comp, label, caps)
            try:
                instances[iname] = (store, linker.instantiate(store, comp.component))
            except wasmtime.WasmtimeError as e:
                box.fail_from(e, label)
                raise
        label = "function"
        store = box.store(label)
        linker = wc.Linker(engine.engine)
        box.link_host(linker, plan.function, label, caps)
        with linker.root() as root:
            for iface, target in plan.routes.items():
                if target == "host":
                    continue
                istore, inst = instances[target]
                with root.add_instance(iface) as li:
                    parent = inst.get_export_index(istore, iface)
                    for fname in plan.function.imports[iface]:
                        idx = inst.get_export_index(istore, fname, parent)
                        func = inst.get_func(istore, idx)
                        li.add_func(fname, box.forwarder(func, istore, f"integration:{target}"))
        instance = linker.instantiate(store, plan.function.component)
        t1 = time.perf_counter()
        timings["instantiate"] = round((t1 - t0) * 1000, 2)
        handle = instance.get_func(store, "handle")
        out = handle(store, _event_record(event), _context_record(plan, ctx))
        handle.post_return(store)
        timings["call"] = round((time.perf_counter() - t1) * 1000, 2)
        if out.tag == "ok":
            result = journal.redact(_parse_result(out.payload, journal))
        else:
            journal.fail(Failure("flow_error", "function", str(out.payload)))
        if inspect is not None:
            inspect()
    except wasmtime.WasmtimeError as e:
        box.fail_from(e, "function")
    except Exception as e:  # a host-side bug must not take the worker down
        journal.fail(Failure("host_error", "host", f"{type(e).__name__}: {e}"))
    finally:
        fuel = box.collect()
        box.close()
    failure = journal.failure
    return RunReport(
        run_id=ctx.run_id,
        flow=plan.name,
        event=event.name,
        action=event.action,
        delivery_id=event.delivery_id,
        repository=event.repository,
        dry_run=dry_run,
        status="failed" if failure else "ok",
        error=failure,
        result=result,
        writes=journal.writes,
        logs=journal.logs,
        duration_ms=round((time.monotonic() - start) * 1000, 2),
        timings_ms=timings,
        resources={
            "fuel_consumed": fuel,
            "limits": limits.model_dump(),
            "components": [plan.function.built.source.name, *plan.integrations],
        },
        llm=llm_summary(journal.llm_calls),
        retry=journal.retry if failure else None,
    )


def _event_record(event: Event) -> wc.Record:
    return wit_record(
        {
            "name": event.name,
            "action": event.action,
            "delivery-id": event.delivery_id,
            "payload": event.raw if event.raw is not None else json.dumps(event.payload),
        }
    )


def _context_record(plan: FlowPlan, ctx: RunContext) -> wc.Record:
    return wit_record(
        {
            "flow": plan.name,
            "run-id": ctx.run_id,
            "repository": ctx.repository,
            "installation-id": ctx.installation_id,
            "settings": json.dumps(plan.config.settings),
            "dry-run": ctx.dry_run,
        }
    )


def _parse_result(text: str, journal: RunJournal) -> Any:
    if len(text) > MAX_RESULT:
        journal.log("function", "warn", f"the result ({len(text)} chars) is over "
                    f"{MAX_RESULT // 1024} KiB; only its start is kept")  # fmt: skip
        return {"cut": True, "chars": len(text), "start": text[:4096]}
    try:
        return json.loads(text)
    except ValueError:
        return text
