"""Test a flow with pytest, offline: the function runs in its real sandbox,
linked to the real integrations, on a recorded event (see flows.replay).

    from flows.testing import FlowTest

    flow = FlowTest(Path(__file__).parents[1])      # the function folder
    report = flow.run("samples/issues.opened.json")
    assert report.ok
    assert "bug" in flow.labels_added(report)

`llm=[...]` replaces the recorded model answers (texts, in order) and
`github={"GET /repos/o/r/labels": (200, [...])}` replaces or adds GitHub
reads, so one sample covers many cases. Nothing is ever sent: writes are
recorded in the report, as in `flows run --dry-run`.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from flows.capabilities.replay import Recording, load_recording, request_key
from flows.project.config import AppConfig, parse_config
from flows.project.events import Event, load_event
from flows.project.manifest import load_manifest
from flows.runtime import Runtime
from flows.sandbox.report import RunReport


def project_root(start: Path) -> Path:
    """The project a function folder belongs to: the nearest folder above it
    with an app.yaml or an integrations/ folder (its own integrations override
    the built-in ones), else the folder above functions/."""
    for d in start.parents:
        if (d / "app.yaml").is_file() or (d / "integrations").is_dir():
            return d
    return start.parent.parent


class FlowTest:
    """One function as a flow, with the settings of its flow.yaml (or `settings`)."""

    def __init__(self, function_dir: Path, settings: dict[str, Any] | None = None) -> None:
        self.function_dir = Path(function_dir).resolve()
        manifest = load_manifest(self.function_dir)
        if manifest is None:
            raise FileNotFoundError(f"{self.function_dir}: no flow.yaml")
        self.name = manifest.name
        self._tmp = tempfile.TemporaryDirectory(prefix="flows-test-")
        root = project_root(self.function_dir)
        flow = {
            "function": str(self.function_dir),
            "integrations": manifest.integrations,
            "memory": manifest.memory,
            "on": manifest.on,
            "limits": manifest.limits,
            "settings": manifest.settings if settings is None else settings,
        }
        doc = {
            "database": {"url": f"sqlite:///{self._tmp.name}/flows.db"},
            "flows": {self.name: flow},
        }
        self.config: AppConfig = parse_config(yaml.safe_dump(doc), root, source="FlowTest")
        self.runtime = Runtime(self.config)
        self.model_calls: list[dict[str, Any]] = []

    def run(
        self,
        event_file: str | Path,
        llm: list[str] | None = None,
        github: dict[str, tuple[int, Any]] | None = None,
        change: Callable[[dict[str, Any]], None] | None = None,
    ) -> RunReport:
        """Run the flow on a recorded event file (relative to the function folder);
        `change` may edit the payload first. What the model was asked is left in
        `self.model_calls`."""
        path = self.function_dir / event_file
        event: Event = load_event(path)
        if change is not None:
            event = Event(event.name, copy.deepcopy(event.payload), event.delivery_id)
            change(event.payload)
        recording = load_recording(path) or Recording(source=str(path))
        recording = self._vary(recording, llm, github)
        self.runtime.capabilities.replay(recording)
        self.model_calls = self.runtime.capabilities.llm.calls
        return self.runtime.run(self.name, event, dry_run=True)

    @staticmethod
    def _vary(rec: Recording, llm, github) -> Recording:
        out = Recording(copy.deepcopy(rec.to_dict()), source=rec.source)
        if llm is not None:
            out.llm = [{"text": t, "model": "test"} for t in llm]
        for key, (status, body) in (github or {}).items():
            method, _, target = key.partition(" ")
            path, _, q = target.partition("?")
            query = dict(p.split("=", 1) for p in q.split("&")) if q else {}
            wanted = request_key(method, path, query)
            out.github = [
                e for e in out.github if request_key(e["method"], e["path"], e["query"]) != wanted
            ]
            text = body if isinstance(body, str) else json.dumps(body)
            out.add_response(method, path, query, status, {}, text)
        return out

    # -- what a run would have written ----------------------------------------
    @staticmethod
    def comments(report: RunReport) -> list[str]:
        """Bodies of the comments the run would post or edit."""
        return [
            w["body"]["body"]
            for w in report.writes
            if w.get("method") in ("POST", "PATCH")
            and "/comments" in w["path"]
            and isinstance(w.get("body"), dict)
            and "body" in w["body"]
        ]

    @staticmethod
    def labels_added(report: RunReport) -> list[str]:
        return [
            label
            for w in report.writes
            if w.get("method") == "POST" and w["path"].endswith("/labels")
            for label in w["body"]["labels"]
        ]

    def close(self) -> None:
        self._tmp.cleanup()
