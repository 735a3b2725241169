"""How far long work is: migrating, building, compiling, reviewing.

Work reports `Step`s to a `Progress` callback; `Reporter` shows them: one bar
redrawn in place on a terminal, plain lines otherwise (logs, CI).

Imports: nothing from flows (the lowest layer)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Step:
    """One item of a phase started or finished."""

    phase: str  # "migrate", "build", "compile", "review"
    done: int  # items of the phase finished so far (this one included once finished)
    total: int
    name: str  # the item, e.g. "function code_review"
    state: str  # "started", or how it finished: "built", "cached", "failed", ...
    seconds: float = 0.0  # how long this item took

    @property
    def finished(self) -> bool:
        return self.state != "started"


Progress = Callable[[Step], None]


def quiet(step: Step) -> None:
    """A Progress that shows nothing."""


class Phase:
    """Counts one phase's items for a Progress, from any thread."""

    def __init__(self, name: str, total: int, progress: Progress = quiet) -> None:
        self.name, self.total, self.progress = name, total, progress
        self.done = 0
        self._lock = threading.Lock()

    def started(self, item: str) -> None:
        self.progress(Step(self.name, self.done, self.total, item, "started"))

    def finished(self, item: str, state: str, seconds: float = 0.0) -> None:
        with self._lock:
            self.done += 1
            n = self.done
        self.progress(Step(self.name, n, self.total, item, state, seconds))


class Reporter:
    """Shows Steps on a stream (stderr by default)."""

    WIDTH = 24

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.start = time.perf_counter()
        self._phase_start: dict[str, float] = {}
        self._running: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def __call__(self, step: Step) -> None:
        with self._lock:
            now = time.perf_counter()
            began = self._phase_start.setdefault(step.phase, now)
            running = self._running.setdefault(step.phase, [])
            if not step.finished:
                running.append(step.name)
            elif step.name in running:
                running.remove(step.name)
            if self.tty:
                self._bar(step, now - began, running)
            elif step.finished:
                how = step.state + (f" in {step.seconds:.1f} s" if step.seconds >= 0.05 else "")
                self._write(
                    f"{step.phase} [{step.done}/{step.total}] {step.name}: {how} "
                    f"({now - began:.0f} s elapsed)\n"
                )

    def _bar(self, step: Step, elapsed: float, running: list[str]) -> None:
        filled = int(self.WIDTH * step.done / max(1, step.total))
        bar = "#" * filled + "." * (self.WIDTH - filled)
        doing = step.name if not step.finished else (running[0] if running else step.name)
        state = "..." if not step.finished or running else step.state
        line = f"{step.phase:<8} [{bar}] {step.done}/{step.total} {doing[:36]:<36} {state[:24]:<24}"
        self._write(f"\r{line} {elapsed:5.0f}s")
        if step.finished and step.done == step.total and not running:
            self._write("\n")

    def note(self, text: str) -> None:
        """A line of its own (a phase's summary, a warning)."""
        with self._lock:
            self._write(text + "\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
