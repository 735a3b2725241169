"""flows:host/memory: key-value memory scoped by the host to the event's
installation and repository (a flow cannot name another tenant)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flows.capabilities.memory.knowledge import FindingIn, KnowledgeStore
from flows.capabilities.memory.store import REPO_THREAD, BadMemoryInput, MemoryStore, Tenant
from flows.sandbox.capability import HOST_MEMORY, HostError
from flows.sandbox.report import RunContext, RunJournal
from flows.sandbox.values import wit_record

_ABSENT = object()


class MemoryApi:
    interface = HOST_MEMORY

    def __init__(
        self,
        store: Callable[[], MemoryStore],
        knowledge: Callable[[], KnowledgeStore],
        ctx: RunContext,
        journal: RunJournal,
    ) -> None:
        self._store_of = store
        self._knowledge_of = knowledge
        self._ctx = ctx
        self._journal = journal
        # dry run: writes stay in this run (the report lists them), nothing is stored
        self._overlay: dict[tuple[int, str], str | None] = {}

    def _tenant(self) -> Tenant:
        if self._ctx.repository is None:
            raise HostError("this event has no repository, so there is no memory for it")
        return Tenant.of(self._ctx.installation_id, self._ctx.repository)

    @staticmethod
    def _open(factory: Callable[[], Any]) -> Any:
        try:
            return factory()
        except Exception as e:
            raise HostError(f"memory is unavailable: {e}", transient=True) from None

    def _where(self, scope: str) -> tuple[MemoryStore, Tenant, int]:
        tenant = self._tenant()
        if scope == "repo":
            thread = REPO_THREAD
        elif scope == "pr":
            if not self._ctx.thread:
                raise HostError("this event has no pull request or issue, so no 'pr' memory")
            thread = self._ctx.thread
        else:
            raise HostError(f"scope {scope!r}: use 'pr' or 'repo'")
        return self._open(self._store_of), tenant, thread

    def _call(self, fn, *args):  # type: ignore[no-untyped-def]
        try:
            return fn(*args)
        except BadMemoryInput as e:
            raise HostError(str(e)) from None
        except Exception as e:  # the database is down: worth a retry later
            raise HostError(f"memory is unavailable: {type(e).__name__}", transient=True) from None

    def _write(self, op: str, scope: str, key: str, value: str | None) -> None:
        entry = {"memory": op, "scope": scope, "key": key, "dry_run": self._ctx.dry_run}
        if value is not None:
            entry["bytes"] = len(value.encode("utf-8", "surrogatepass"))
        self._journal.write(entry)

    def get(self, scope: str, key: str) -> str | None:
        store, tenant, thread = self._where(scope)
        got = self._overlay.get((thread, key), _ABSENT)
        if got is not _ABSENT:
            return got  # type: ignore[return-value]
        return self._call(store.get, tenant, thread, key)

    def put(self, scope: str, key: str, value: str) -> None:
        store, tenant, thread = self._where(scope)
        self._write("put", scope, key, value)
        if self._ctx.dry_run:
            self._call(store._check_value, value)
            self._overlay[(thread, key)] = value
            return
        self._call(store.put, tenant, thread, key, value)

    def put_if(self, scope: str, key: str, expected: str | None, value: str) -> bool:
        store, tenant, thread = self._where(scope)
        if self._ctx.dry_run:
            if self.get(scope, key) != expected:
                return False
            self.put(scope, key, value)
            return True
        done = self._call(store.put_if, tenant, thread, key, expected, value)
        if done:
            self._write("put", scope, key, value)
        return done

    def delete(self, scope: str, key: str) -> None:
        store, tenant, thread = self._where(scope)
        self._write("delete", scope, key, None)
        if self._ctx.dry_run:
            self._overlay[(thread, key)] = None
            return
        self._call(store.delete, tenant, thread, key)

    def list_keys(self, scope: str, prefix: str) -> list[str]:
        store, tenant, thread = self._where(scope)
        keys = set(self._call(store.list_keys, tenant, thread, prefix))
        for (t, k), v in self._overlay.items():
            if t == thread and k.startswith(prefix):
                (keys.add if v is not None else keys.discard)(k)
        return sorted(keys)[:1000]

    # -- what the repository learned ---------------------------------------------

    def _learned(self, need_thread: bool = False) -> tuple[KnowledgeStore, Tenant]:
        tenant = self._tenant()
        if need_thread and not self._ctx.thread:
            raise HostError("this event has no pull request")
        return self._open(self._knowledge_of), tenant

    @staticmethod
    def _finding(f) -> FindingIn:  # type: ignore[no-untyped-def]
        return FindingIn(
            f.fingerprint, f.rule, f.path, f.symbol, f.title, f.severity, getattr(f, "comment-id")
        )

    def record_findings(self, findings: list) -> None:
        store, tenant = self._learned(need_thread=True)
        self._journal.write(
            {"memory": "record-findings", "count": len(findings), "dry_run": self._ctx.dry_run}
        )
        if not self._ctx.dry_run:
            found = [self._finding(f) for f in findings]
            self._call(store.record_findings, tenant, self._ctx.thread, found)

    def suppressed(self, candidates: list) -> list[str]:
        store, tenant = self._learned()
        return self._call(store.suppressed, tenant, [self._finding(f) for f in candidates])

    def set_finding_status(self, fingerprint: str, status: str, reason: str | None) -> None:
        store, tenant = self._learned()
        self._journal.write(
            {
                "memory": "set-finding-status",
                "fingerprint": fingerprint,
                "status": status,
                "dry_run": self._ctx.dry_run,
            }
        )
        if not self._ctx.dry_run:
            self._call(store.set_status, tenant, status, reason, fingerprint)

    def note_pull_request(self, summary: str, paths: list[str]) -> None:
        store, tenant = self._learned(need_thread=True)
        self._journal.write({"memory": "note-pull-request", "dry_run": self._ctx.dry_run})
        if not self._ctx.dry_run:
            self._call(store.add, tenant, "pr", str(self._ctx.thread), summary, paths)

    def recall(self, query: str, paths: list[str], limit: int) -> list:
        store, tenant = self._learned()
        found = self._call(store.recall, tenant, query, paths, limit)
        return [
            wit_record({"kind": r.kind, "ref": r.ref, "text": r.text, "paths": r.paths})
            for r in found
        ]
