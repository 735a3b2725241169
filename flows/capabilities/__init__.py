"""The host side of the flows:host WIT package, one package per interface,
each the same shape: `api.py` (the binding a guest calls), then the client or
store behind it. `github/` (api, client and retry policy, App auth), `llm/`
(api, backends), `memory/` (api, store, knowledge, feedback); `replay.py`
(recorded and replayed doubles); `provider.py` (Capabilities: the secrets
and clients of this process, handed to each run).

Imports: flows.sandbox, flows.project, flows.db, flows.errors."""
