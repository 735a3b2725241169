"""flows:host/memory: the binding (api), key-value threads (store), findings
and conventions (knowledge), and maintainers' feedback from webhooks (feedback)."""
