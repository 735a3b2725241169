"""flows: a self-hosted GitHub App whose bots run as sandboxed Wasm components."""

__version__ = "0.1.0"
