"""Developer tooling: `flows dev` (watch) and `flows new`/`flows templates`
(templates).

Imports: flows.runtime and everything below it; never server or cli."""
