"""What `flows serve` and `flows worker` share: database, runtime, queue, workers."""

from __future__ import annotations

import logging
import threading
import time

from flows.capabilities.llm.llama_backend import check_model_path
from flows.capabilities.provider import Capabilities
from flows.db import get_engine, is_sqlite
from flows.db.migrate import ensure_schema
from flows.errors import ConfigError
from flows.progress import Progress, quiet
from flows.project.config import AppConfig
from flows.runtime import Runtime
from flows.sandbox.capability import HOST_LLM, HostError
from flows.server.ingest import Ingest
from flows.server.metrics import Metrics
from flows.server.queue import Queue
from flows.server.worker import WorkerPool

log = logging.getLogger("flows.service")
JANITOR_EVERY_S = 600.0


class Service:
    def __init__(self, cfg: AppConfig, capabilities: Capabilities | None = None) -> None:
        self.cfg = cfg
        self.engine = get_engine(cfg.database.url)
        self.capabilities = capabilities or Capabilities(cfg)
        self.runtime = Runtime(cfg, self.capabilities)
        self.queue = Queue(self.engine, cfg.queue)
        self.memory = self.capabilities.memory_store()
        self.ingest = Ingest(cfg, self.engine, self.memory)
        self.metrics = Metrics()
        self.pool: WorkerPool | None = None
        self.started = time.time()
        # /setup's one-time `state` values, with when they were made
        self.setup_states: dict[str, float] = {}
        self._stop = threading.Event()

    def prepare(self, migrate: bool | None = None, progress: Progress = quiet) -> None:
        """Migrate (automatic on SQLite) or check the schema, then build,
        compile and link every flow so a bad flow stops the start, not the
        first event."""
        auto = is_sqlite(self.engine) if migrate is None else migrate
        ensure_schema(self.engine, auto=auto, progress=progress)
        uses_llm = False
        for plan in self.runtime.prepare(list(self.cfg.flows), progress):
            uses_llm |= any(HOST_LLM in c.imports for c in plan.integrations.values())
        if uses_llm and self.cfg.llm.backend == "llama":
            try:
                check_model_path(self.cfg.llm.llama)
            except HostError as e:
                raise ConfigError(str(e)) from None

    def start_workers(self, threads: int) -> None:
        if threads > 0 and self.pool is None:
            self.pool = WorkerPool(self.runtime, self.queue, threads, self.metrics)
            self.pool.start()
            self._stop.clear()
            threading.Thread(target=self._janitor, name="janitor", daemon=True).start()

    def stop_workers(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self.pool is not None:
            self.pool.stop(timeout)
            self.pool = None

    def _janitor(self) -> None:
        """Forget the memory of pull requests closed longer ago than the retention."""
        while not self._stop.is_set():
            try:
                gone = self.memory.purge_expired()
                if gone:
                    log.info("forgot %d memory items of closed pull requests", gone)
            except Exception:
                log.exception("memory purge failed; trying again later")
            self._stop.wait(JANITOR_EVERY_S)
