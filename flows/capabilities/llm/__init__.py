"""flows:host/llm-backend: the binding (api) and the backends behind it
(backend: the common types; openai_backend, llama_backend)."""
