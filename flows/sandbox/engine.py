"""The process-wide Wasm engine: compiled-code cache, epoch ticker, output capture."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime import component as wc

from flows.progress import Phase, Progress, quiet
from flows.sandbox.build import BuiltComponent, cache_dir, label

TICK_S = 0.01  # epoch granularity: deadlines are accurate to about 10 ms
OUTPUT_CAP = 256 * 1024  # bytes of each guest stream kept in the run log
FUEL_UNLIMITED = 2**63 - 1


@dataclass
class LoadedComponent:
    """A compiled component plus what it imports and exports."""

    built: BuiltComponent
    component: wc.Component
    # interface name -> {function name: FuncType}; type-only interfaces map to {}
    imports: dict[str, dict[str, wc.FuncType]]
    exports: dict[str, dict[str, wc.FuncType]]
    load_ms: float
    from_compiled_cache: bool


class GuestOutput:
    """A guest's stdout and stderr, captured to files whose size is capped."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="flows-run-"))
        self.stdout = self.dir / "stdout"
        self.stderr = self.dir / "stderr"
        self.truncated = False

    def wasi(self) -> wasmtime.WasiConfig:
        """A WASI context that grants nothing but these two output files."""
        w = wasmtime.WasiConfig()
        w.stdout_file = str(self.stdout)
        w.stderr_file = str(self.stderr)
        return w

    def enforce_cap(self) -> None:
        for f in (self.stdout, self.stderr):
            with contextlib.suppress(OSError):
                if f.stat().st_size > OUTPUT_CAP:
                    os.truncate(f, OUTPUT_CAP)  # later writes land past a hole
                    self.truncated = True

    def read(self) -> tuple[str, str]:
        out = []
        for f in (self.stdout, self.stderr):
            try:
                with f.open("rb") as fh:
                    data = fh.read(OUTPUT_CAP)
                    self.truncated = self.truncated or bool(fh.read(1))
            except OSError:
                data = b""
            out.append(data.replace(b"\0", b"").decode("utf-8", "replace"))
        return out[0], out[1]

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# How machine code is made. "optimized": Cranelift at full optimisation, for
# serving. "fast": Winch, wasmtime's baseline compiler (about 5x quicker to
# compile an 18 MB component, slower code), for `flows dev`.
COMPILERS = ("optimized", "fast")
_WINCH = 2  # wasmtime_strategy_t: 0 auto, 1 cranelift, 2 winch (wasmtime-py names only 0 and 1)


def _engine_config(compiler: str) -> wasmtime.Config:
    cfg = wasmtime.Config()
    cfg.epoch_interruption = True
    cfg.consume_fuel = True
    if compiler == "fast":
        ffi.wasmtime_config_strategy_set(cfg.ptr(), _WINCH)
    elif compiler != "optimized":
        raise ValueError(f"unknown compiler {compiler!r} (known: {', '.join(COMPILERS)})")
    return cfg


def _interfaces(items: dict, engine: wasmtime.Engine) -> dict[str, dict[str, wc.FuncType]]:
    result: dict[str, dict[str, wc.FuncType]] = {}
    for name, item in items.items():
        ty = item.ty
        if isinstance(ty, wc.ComponentInstanceType):
            result[name] = {
                fname: f.ty
                for fname, f in ty.exports(engine).items()
                if isinstance(f.ty, wc.FuncType)
            }
        elif isinstance(ty, wc.FuncType):
            result.setdefault("", {})[name] = ty
    return result


class Engine:
    """One per process: a wasmtime Engine, a component cache, a ticker thread."""

    def __init__(self, compiler: str = "optimized") -> None:
        self.compiler_kind = compiler
        self.engine = wasmtime.Engine(_engine_config(compiler))
        self._loaded: dict[str, LoadedComponent] = {}
        self._lock = threading.Lock()
        self._compiling: dict[str, threading.Lock] = {}  # one compile per digest at a time
        self._outputs: weakref.WeakSet[GuestOutput] = weakref.WeakSet()
        self._outputs_lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="flows-epoch", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        n = 0
        while not self._stop.wait(TICK_S):
            self.engine.increment_epoch()
            n += 1
            if n % 10 == 0:
                with self._outputs_lock:
                    outputs = list(self._outputs)
                for o in outputs:
                    o.enforce_cap()

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=1)

    def ticks(self, seconds: float) -> int:
        return max(1, int(seconds / TICK_S) + 1)

    def new_output(self) -> GuestOutput:
        out = GuestOutput()
        with self._outputs_lock:
            self._outputs.add(out)
        return out

    def compiled_path(self, digest: str) -> Path:
        version = metadata.version("wasmtime")
        kind = "" if self.compiler_kind == "optimized" else f"-{self.compiler_kind}"
        return cache_dir() / "compiled" / f"{digest}-wasmtime{version}-epoch-fuel{kind}.cwasm"

    def load(self, built: BuiltComponent) -> LoadedComponent:
        """Compile a built component, or load its machine code from the cache.
        Different components compile side by side; the same one once."""
        with self._lock:
            hit = self._loaded.get(built.digest)
            if hit is not None:
                return hit
            lock = self._compiling.setdefault(built.digest, threading.Lock())
        with lock:
            hit = self._loaded.get(built.digest)
            if hit is not None:
                return hit
            start = time.perf_counter()
            path = self.compiled_path(built.digest)
            comp = None
            from_cache = False
            if path.is_file():
                try:
                    comp = wc.Component.deserialize_file(self.engine, str(path))
                    from_cache = True
                except wasmtime.WasmtimeError:
                    path.unlink(missing_ok=True)  # stale or corrupt: compile again
            if comp is None:
                comp = wc.Component.from_file(self.engine, str(built.wasm))
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
                try:
                    tmp.write_bytes(comp.serialize())
                    os.replace(tmp, path)  # the entry appears whole, or not at all
                finally:
                    tmp.unlink(missing_ok=True)
            ty = comp.type
            loaded = LoadedComponent(
                built=built,
                component=comp,
                imports=_interfaces(ty.imports(self.engine), self.engine),
                exports=_interfaces(ty.exports(self.engine), self.engine),
                load_ms=(time.perf_counter() - start) * 1000,
                from_compiled_cache=from_cache,
            )
            with self._lock:
                self._loaded[built.digest] = loaded
            return loaded

    def compiler(
        self, total: int, progress: Progress = quiet
    ) -> Callable[[BuiltComponent], LoadedComponent]:
        """load(), reporting each compile as a step of a `compile` phase."""
        phase = Phase("compile", total, progress)

        def compile_one(built: BuiltComponent) -> LoadedComponent:
            phase.started(label(built.source))
            loaded = self.load(built)
            state = "cached" if loaded.from_compiled_cache else "compiled"
            phase.finished(label(built.source), state, loaded.load_ms / 1000)
            return loaded

        return compile_one

    def new_store(self, output: GuestOutput, timeout_s: float, memory_mb: int, fuel: int | None):
        """A fresh Store with a deadline, a memory cap and fuel."""
        store = wasmtime.Store(self.engine)
        store.set_wasi(output.wasi())
        store.set_epoch_deadline(self.ticks(timeout_s))
        store.set_limits(memory_size=memory_mb * 1024 * 1024)
        store.set_fuel(fuel if fuel is not None else FUEL_UNLIMITED)
        return store


_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine(compiler: str | None = None) -> Engine:
    """The process's Engine, created on first use (`compiler`: see COMPILERS;
    a process that wants the fast one asks before anything else runs)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine(compiler or "optimized")
        elif compiler is not None and compiler != _engine.compiler_kind:
            raise RuntimeError(f"the engine already compiles {_engine.compiler_kind}")
        return _engine
