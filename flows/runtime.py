"""Build, load and run flows: what `flows run` and the workers call."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flows.capabilities.provider import Capabilities
from flows.project.config import AppConfig
from flows.project.events import Event
from flows.sandbox.build import BuiltComponent, ComponentSource, build_one, project_wit
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
    ) -> None:
        self.cfg = cfg
        self.capabilities = capabilities or Capabilities(cfg)
        self.engine = engine or get_engine()
        self._plans: dict[str, FlowPlan] = {}
        self._lock = threading.Lock()
        self.built: dict[str, BuiltComponent] = {}  # by digest

    def _load(self, src: ComponentSource) -> LoadedComponent:
        built = build_one(src)
        self.built[built.digest] = built
        return self.engine.load(built)

    def plan(self, name: str) -> FlowPlan:
        """Build (cached), load and link-check a flow; raises FlowsError subclasses."""
        with self._lock:
            if name in self._plans:
                return self._plans[name]
            flow = self.cfg.flow(name)
            wit = project_wit(self.cfg)
            function = self._load(
                ComponentSource("function", flow.function.name, flow.function, wit)
            )
            integrations = {
                iname: self._load(
                    ComponentSource("integration", iname, self.cfg.integration_dir(iname), wit)
                )
                for iname in flow.integrations
            }
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
