"""Counters for GET /metrics, in the Prometheus text format."""

from __future__ import annotations

import threading
from collections import defaultdict


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self._help: dict[str, str] = {}

    def inc(self, name: str, help_text: str, by: float = 1.0, **labels: str) -> None:
        with self._lock:
            self._help.setdefault(name, help_text)
            self._counters[(name, tuple(sorted(labels.items())))] += by

    def render(self, gauges: dict[str, tuple[str, dict[str, float]]] | None = None) -> str:
        """Counters, plus gauges given as {name: (help, {label value: number})}."""
        lines: list[str] = []
        with self._lock:
            items = sorted(self._counters.items())
            helps = dict(self._help)
        done: set[str] = set()
        for (name, labels), value in items:
            if name not in done:
                lines += [f"# HELP {name} {helps[name]}", f"# TYPE {name} counter"]
                done.add(name)
            lines.append(f"{name}{_labels(labels)} {value:g}")
        for name, (help_text, values) in (gauges or {}).items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            for label, value in sorted(values.items()):
                lines.append(f'{name}{{state="{label}"}} {value:g}')
        return "\n".join(lines) + "\n"


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
