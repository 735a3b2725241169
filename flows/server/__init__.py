"""The running GitHub App: HTTP routes (http), webhook ingest, App
registration, installations, the job queue, workers, metrics, and the
service that composes them for `flows serve` and `flows worker`.

Imports: flows.runtime and everything below it; never devtools or cli."""
