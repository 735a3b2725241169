"""Build, load and run flows: what `flows run` and the workers call."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flows.capabilities.provider import Capabilities
from flows.progress import Progress, quiet
from flows.project.config import AppConfig
from flows.project.events import Event
from flows.sandbox.build import (
    BuiltComponent,
    ComponentSource,
    build_all,
    build_one,
    flow_sources,
)
from flows.sandbox.engine import Engine, LoadedComponent, get_engine
from flows.sandbox.linking import FlowPlan, plan_flow
from flows.sandbox.report import RunReport
from flows.sandbox.runner import run_plan


class Runtime:
    """Flows of one app.yaml, loaded once and run many times."""

    def __init__(
        self,
        cfg: AppConfig,
        capabilities: Capabilities | None = None,
        engine: Engine | None = None,
        dev: bool = False,
    ) -> None:
        """`dev`: `flows dev` builds (their Python sources run from disk, see
        flows.sandbox.build.DEV_GUEST), never to serve events."""
        self.cfg = cfg
        self.capabilities = capabilities or Capabilities(cfg)
        self.engine = engine or get_engine()
        self.dev = dev
        self._plans: dict[str, FlowPlan] = {}
        self._lock = threading.Lock()
        self.built: dict[str, BuiltComponent] = {}  # by digest

    def _load(self, src: ComponentSource) -> LoadedComponent:
        built = build_one(src, dev=self.dev)
        self.built[built.digest] = built
        return self.engine.load(built)

    def prepare(
        self, names: list[str], progress: Progress = quiet, jobs: int | None = None
    ) -> list[FlowPlan]:
        """Build, compile and link-check several flows: the components side by
        side, each once, each compiled as soon as it is built; raises
        FlowsError subclasses (every failed build named)."""
        found: dict[ComponentSource, None] = {}
        for name in names:
            found.update(dict.fromkeys(flow_sources(self.cfg, name)))
        compile_one = self.engine.compiler(len(found), progress)
        built = build_all(list(found), jobs=jobs, progress=progress, then=compile_one, dev=self.dev)
        for b in built:
            self.built[b.digest] = b
        return [self.plan(name) for name in names]

    def plan(self, name: str) -> FlowPlan:
        """Build (cached), load and link-check a flow; raises FlowsError subclasses."""
        with self._lock:
            if name in self._plans:
                return self._plans[name]
            flow = self.cfg.flow(name)
            function, *rest = (self._load(src) for src in flow_sources(self.cfg, name))
            integrations = dict(zip(flow.integrations, rest, strict=True))
            plan = plan_flow(name, flow, function, integrations, self.capabilities.available())
            self._plans[name] = plan
            return plan

    def run(
        self,
        name: str,
        event: Event,
        dry_run: bool = False,
        run_id: str | None = None,
        inspect: Callable[[], None] | None = None,
    ) -> RunReport:
        plan = self.plan(name)
        return run_plan(
            self.engine,
            plan,
            event,
            self.capabilities.for_run,
            self.capabilities.journal(),
            dry_run=dry_run,
            run_id=run_id,
            inspect=inspect,
        )
