"""`flows build`: Python sources -> Wasm components, cached by content hash.

A component is a folder with `app.py`, a `world.wit` naming the world it
targets, and optionally `requirements.txt` listing pure-Python packages to
bundle. The WIT packages in flows/wit are available to every world.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from flows.errors import BuildError
from flows.progress import Phase, Progress, quiet
from flows.project.config import AppConfig

# Bump when the build procedure changes in a way that changes outputs.
BUILD_FORMAT = "2"
# The CPython inside componentize-py 0.25's runtime; bundled wheels must suit it.
GUEST_PYTHON = "3.14"
WIT_DIR = Path(__file__).resolve().parents[1] / "wit"
# pure-Python modules every guest may import (e.g. `import diff`)
GUEST_LIB = Path(__file__).resolve().parents[1] / "guest"
# what a `flows dev` build adds: the dev-sources import and the entry module
# that runs the component's sources from disk (see flows/guest_dev/README.md)
DEV_GUEST = Path(__file__).resolve().parents[1] / "guest_dev"
DEV_WORLD = "flows-dev"
_SKIP_DIRS = {"__pycache__", ".pytest_cache", "tests", "samples", ".git"}
# what a function folder holds for people and tools, not for the component
_SKIP_FILES = {"flow.yaml", "README.md"}
_WORLD = re.compile(r"^\s*world\s+([a-z][a-z0-9-]*)\s*\{", re.MULTILINE)
STALE_S = 3600.0  # a temporary cache file this old was left by a killed process


@dataclass(frozen=True)
class ComponentSource:
    """A folder that builds into one component."""

    kind: str  # "function" or "integration"
    name: str
    path: Path
    # the project's own WIT packages (a `wit/` folder next to app.yaml), if any
    project_wit: Path | None = None

    def wit_dirs(self) -> list[Path]:
        return [WIT_DIR] + ([self.project_wit] if self.project_wit else [])


@dataclass(frozen=True)
class BuiltComponent:
    source: ComponentSource
    digest: str
    wasm: Path
    cached: bool
    seconds: float
    dev: bool = False  # a `flows dev` build: its Python sources are read from disk


def cache_dir() -> Path:
    """Where built components, bundled dependencies and compiled code are kept."""
    env = os.environ.get("FLOWS_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "flows"


_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def _run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """subprocess.run, but stop_builds() can end it from another thread."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with _running_lock:
        _running.add(proc)
    try:
        out, err = proc.communicate()
    finally:
        with _running_lock:
            _running.discard(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def stop_builds() -> None:
    """End every build tool still running (on Ctrl-C); their partial output is removed."""
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        proc.terminate()


def tool_version() -> str:
    return metadata.version("componentize-py")


def project_components(cfg: AppConfig) -> list[ComponentSource]:
    """Every function and integration of the project: the folders under
    functions/ and integrations/, plus any flow function that lives elsewhere."""
    found: dict[Path, ComponentSource] = {}
    wit = project_wit(cfg)
    for kind, folder in (("function", "functions"), ("integration", "integrations")):
        base = cfg.root / folder
        if base.is_dir():
            for d in sorted(base.iterdir()):
                if (d / "app.py").is_file():
                    found[d.resolve()] = ComponentSource(kind, d.name, d.resolve(), wit)
    for flow in cfg.flows.values():
        d = flow.function.resolve()
        found.setdefault(d, ComponentSource("function", d.name, d, wit))
    for flow in cfg.flows.values():
        for name in flow.integrations:
            d = cfg.integration_dir(name).resolve()
            found.setdefault(d, ComponentSource("integration", name, d, wit))
    return list(found.values())


def flow_sources(cfg: AppConfig, flow: str) -> list[ComponentSource]:
    """A flow's function, then its integrations in app.yaml's order."""
    f = cfg.flow(flow)
    wit = project_wit(cfg)
    out = [ComponentSource("function", f.function.name, f.function, wit)]
    out += [
        ComponentSource("integration", n, cfg.integration_dir(n).resolve(), wit)
        for n in f.integrations
    ]
    return out


def project_wit(cfg: AppConfig) -> Path | None:
    d = cfg.root / "wit"
    return d.resolve() if d.is_dir() else None


def _source_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for f in sorted(filenames):
            if not f.endswith((".pyc", ".pyo")) and not f.startswith(".") and f not in _SKIP_FILES:
                files.append(Path(dirpath) / f)
    return files


def digest(src: ComponentSource, dev: bool = False) -> str:
    """Content hash of everything that determines the component's bytes. A
    dev build's leaves out the component's own .py files: it runs them from
    disk, so an edit to them keeps the build."""
    h = hashlib.sha256()
    h.update(f"format={BUILD_FORMAT};componentize-py={tool_version()};".encode())
    roots = [("src", src.path), ("lib", GUEST_LIB)]
    roots += [(f"wit{i}", d) for i, d in enumerate(src.wit_dirs())]
    if dev:
        h.update(b"dev;")
        roots.append(("dev", DEV_GUEST))
    for tag, root in roots:
        for f in _source_files(root):
            if dev and tag == "src" and f.suffix == ".py":
                continue
            h.update(f"{tag}:{f.relative_to(root).as_posix()}\0".encode())
            h.update(f.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def python_sources(src: ComponentSource) -> list[tuple[str, str]]:
    """(path relative to the folder, text) of the component's own .py files."""
    return [
        (f.relative_to(src.path).as_posix(), f.read_text(encoding="utf-8"))
        for f in _source_files(src.path)
        if f.suffix == ".py"
    ]


def world_name(src: ComponentSource) -> str:
    wit = src.path / "world.wit"
    if not wit.is_file():
        raise BuildError(f"{wit}: missing; a component declares the world it targets in world.wit")
    names = _WORLD.findall(wit.read_text(encoding="utf-8"))
    if len(names) != 1:
        raise BuildError(f"{wit}: expected exactly one `world NAME {{`, found {len(names)}")
    return names[0]


def _install_deps(src: ComponentSource, cache: Path) -> Path | None:
    req = src.path / "requirements.txt"
    if not req.is_file():
        return None
    key = hashlib.sha256(f"{GUEST_PYTHON}\0".encode() + req.read_bytes()).hexdigest()[:24]
    target = cache / "deps" / key
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".deps-", dir=target.parent))
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--target", str(tmp), "--only-binary=:all:", "--platform", "any",
        "--implementation", "py", "--python-version", GUEST_PYTHON, "--abi", "none",
        "-r", str(req),
    ]  # fmt: skip
    try:
        proc = _run(cmd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise BuildError(
            f"{req}: cannot install pure-Python dependencies for the guest "
            f"(only py3-none-any wheels can be bundled):\n  " + "\n  ".join(detail)
        )
    (tmp / ".complete").write_text("ok")
    try:
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / ".complete").is_file():
            raise
    return target


def _stage_wit(src: ComponentSource, stage: Path, dev: bool) -> None:
    text = (src.path / "world.wit").read_text(encoding="utf-8")
    if dev:
        text += (
            f"\nworld {DEV_WORLD} {{\n  include {world_name(src)};\n"
            "  import flows:dev/dev-sources@0.1.0;\n}\n"
        )
    (stage / "world.wit").write_text(text, encoding="utf-8")
    deps = stage / "deps"
    deps.mkdir()
    for d in src.wit_dirs() + ([DEV_GUEST] if dev else []):
        for f in sorted(d.glob("*.wit")):
            if (deps / f.name).exists():
                raise BuildError(f"{f}: a WIT file of this name is already in {WIT_DIR}")
            shutil.copyfile(f, deps / f.name)


def _clean_error(output: str, paths: dict[str, Path], src: ComponentSource) -> str:
    """Turn componentize-py's output into `file:line: message` for the author."""
    text = output.split("AssertionError: ", 1)[-1]
    if "-->" not in text:  # WIT errors keep their location under "Caused by"
        text = text.split("\nCaused by:", 1)[0]
    text = text.split("\nStack backtrace:", 1)[0].strip()
    for guest, real in paths.items():
        text = text.replace(f'"{guest}/', f'"{real}/')
    for d in src.wit_dirs():
        for f in d.glob("*.wit"):
            text = re.sub(rf"--> [^\s]*?deps/{re.escape(f.name)}", f"--> {f}", text)
    text = re.sub(r"--> [^\s]*?world\.wit", f"--> {src.path / 'world.wit'}", text)
    frames = re.findall(r'File "([^"]+)", line (\d+)', text)
    inside = [(f, n) for f, n in frames if f.startswith(str(src.path))]
    if inside:
        f, n = inside[-1]
        last = text.strip().splitlines()[-1]
        return f"{f}:{n}: {last}\n{text}"
    loc = re.search(r"--> (\S+):(\d+):(\d+)", text)
    if loc:
        return f"{loc.group(1)}:{loc.group(2)}: {text.splitlines()[0]}\n{text}"
    return f"{src.path}: {text}"


def build_one(src: ComponentSource, force: bool = False, dev: bool = False) -> BuiltComponent:
    """Build one component, or return the cached build for the same content.
    `dev`: a `flows dev` build (see DEV_GUEST), never served."""
    start = time.perf_counter()
    cache = cache_dir()
    (cache / "components").mkdir(parents=True, exist_ok=True)
    dig = digest(src, dev)
    out = cache / "components" / f"{dig}.wasm"
    if out.is_file() and not force:
        return BuiltComponent(src, dig, out, True, time.perf_counter() - start, dev)
    world = DEV_WORLD if dev else world_name(src)
    deps = _install_deps(src, cache)
    with tempfile.TemporaryDirectory(prefix="flows-build-") as tmp:
        stage = Path(tmp) / "wit"
        stage.mkdir()
        _stage_wit(src, stage, dev)
        tmp_out = out.with_name(f".{dig}.{os.getpid()}.{threading.get_ident()}.tmp")
        python_paths = [src.path, GUEST_LIB] + ([DEV_GUEST] if dev else [])
        python_paths += [deps] if deps else []
        cmd = [
            "componentize-py", "-d", str(stage), "-w", world, "componentize",
            *[a for p in python_paths for a in ("-p", str(p))],
            "flows_dev" if dev else "app", "-o", str(tmp_out),
        ]  # fmt: skip
        # componentize-py appends $VIRTUAL_ENV's (or the running Python's)
        # site-packages to the search path; an empty VIRTUAL_ENV keeps the
        # host's packages out, so a guest gets only what it declares.
        hermetic = Path(tmp) / "no-venv"
        hermetic.mkdir()
        env = {
            **os.environ,
            "VIRTUAL_ENV": str(hermetic),
            "RUST_BACKTRACE": "0",
            "RUST_LIB_BACKTRACE": "0",
        }
        exe = shutil.which("componentize-py") or str(Path(sys.executable).parent / cmd[0])
        try:
            proc = _run([exe, *cmd[1:]], env=env)
            if proc.returncode != 0 or not tmp_out.is_file():
                guest = {f"/{i}": p for i, p in enumerate(python_paths)}
                msg = _clean_error(proc.stderr + proc.stdout, guest, src)
                raise BuildError(f"build of {src.kind} {src.name!r} failed:\n{msg}")
            os.replace(tmp_out, out)  # the entry appears whole, or not at all
        finally:
            tmp_out.unlink(missing_ok=True)
    return BuiltComponent(src, dig, out, False, time.perf_counter() - start, dev)


def sweep(cache: Path | None = None) -> int:
    """Remove temporary files a killed build or compile left in the cache."""
    cache = cache or cache_dir()
    now, gone = time.time(), 0
    for pattern in ("components/.*.tmp", "compiled/.*.tmp", "deps/.deps-*"):
        for p in cache.glob(pattern):
            try:
                if now - p.stat().st_mtime > STALE_S:
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                    gone += 1
            except OSError:
                pass
    return gone


def label(src: ComponentSource) -> str:
    return f"{src.kind} {src.name}"


def build_all(
    sources: Iterable[ComponentSource],
    force: bool = False,
    jobs: int | None = None,
    progress: Progress = quiet,
    then: Callable[[BuiltComponent], object] | None = None,
    dev: bool = False,
) -> list[BuiltComponent]:
    """Build components side by side (`jobs` at a time, default one per core);
    `then` runs on each as soon as it is built (the compile, say). A failure
    does not stop the others; once all have finished, one BuildError names
    every failure. Ctrl-C ends the running builds and keeps no partial cache
    entry."""
    todo = list(sources)
    sweep()
    phase = Phase("build", len(todo), progress)

    def one(src: ComponentSource) -> BuiltComponent:
        phase.started(label(src))
        t0 = time.perf_counter()
        try:
            built = build_one(src, force=force, dev=dev)
        except BaseException:
            phase.finished(label(src), "failed", time.perf_counter() - t0)
            raise
        phase.finished(label(src), "cached" if built.cached else "built", built.seconds)
        if then is not None:
            then(built)
        return built

    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flows-build")
    futures = [pool.submit(one, s) for s in todo]
    try:
        wait(futures)
    except BaseException:  # Ctrl-C: stop what runs, start nothing more
        for f in futures:
            f.cancel()
        stop_builds()
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
    failures = [f.exception() for f in futures if f.exception() is not None]
    for e in failures:
        if not isinstance(e, BuildError):
            raise e
    if failures:
        head = f"{len(failures)} of {len(todo)} components failed to build"
        raise BuildError(head + ":\n" + "\n".join(str(e) for e in failures))
    return [f.result() for f in futures]
