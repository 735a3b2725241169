"""A local GGUF model, in process, with llama-cpp-python (GPU offload when built with CUDA)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from flows.capabilities.llm.backend import Backend, Completion, Message, TooLong
from flows.project.config import LlamaConfig
from flows.sandbox.capability import HostError

_models: dict[tuple, tuple[Any, threading.Lock]] = {}


_load_lock = threading.Lock()


def check_model_path(cfg: LlamaConfig) -> Path:
    """The model file, or a HostError naming the setting."""
    if cfg.model_path is None:
        raise HostError("llm.llama.model_path is not set (a path to a .gguf file)")
    if not cfg.model_path.is_file():
        raise HostError(f"llm.llama.model_path: no such file: {cfg.model_path}")
    return cfg.model_path


def load(cfg: LlamaConfig) -> tuple[Any, threading.Lock]:
    """The model, loaded once per process and shared; and the lock that
    serializes calls into it (a llama.cpp context is not thread-safe)."""
    path = check_model_path(cfg)
    key = (str(path), cfg.n_ctx, cfg.n_gpu_layers, cfg.n_threads, cfg.chat_format, cfg.seed)
    with _load_lock:
        if key not in _models:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise HostError("llm.backend is llama but llama-cpp-python is not installed "
                                "(pip install -e '.[llama]')") from None  # fmt: skip
            try:
                model = Llama(
                    model_path=str(path),
                    n_ctx=cfg.n_ctx,
                    n_gpu_layers=cfg.n_gpu_layers,
                    n_threads=cfg.n_threads,
                    chat_format=cfg.chat_format,
                    seed=cfg.seed,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as e:
                raise HostError(f"llm.llama.model_path: cannot load {path}: {e}") from None
            _models[key] = (model, threading.Lock())
        return _models[key]


def _formatter(model: Any) -> Any:
    """The GGUF's own chat template as llama-cpp-python applies it, or None
    (a named chat_format, or no template in the file)."""
    template = model.metadata.get("tokenizer.chat_template")
    if model.chat_format != "chat_template.default" or not template:
        return None
    from llama_cpp import llama_chat_format

    def text(token: int) -> str:
        return model._model.token_get_text(token) if token != -1 else ""

    return llama_chat_format.Jinja2ChatFormatter(
        template=template, eos_token=text(model.token_eos()), bos_token=text(model.token_bos())
    )


class LlamaBackend(Backend):
    """One model in process; calls take turns on it (concurrency 1)."""

    name = "llama"

    def __init__(self, cfg: LlamaConfig) -> None:
        self.cfg = cfg
        self._template: Any = None

    def count_tokens(self, text: str) -> int:
        model, _lock = load(self.cfg)
        return len(model.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_request(self, messages: list[Message], schema: dict[str, Any] | None) -> int:
        """Exact: the messages through the model's chat template, tokenized.
        The schema becomes a grammar, which takes no room in the window."""
        model, _lock = load(self.cfg)
        if self._template is None:
            self._template = _formatter(model) or False
        if not self._template:  # a named chat format: the common templates' bound
            return super().count_request(messages, None)
        prompt = self._template(messages=messages).prompt
        bos = model.metadata.get("tokenizer.ggml.add_bos_token") == "true"
        return len(model.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)) + bos

    def context_window(self) -> int:
        return self.cfg.n_ctx

    def complete(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float | None,
        schema: dict[str, Any] | None,
        deadline: float,
    ) -> Completion:
        from llama_cpp import LogitsProcessorList

        model, lock = load(self.cfg)
        prompt = self.fits(messages, max_tokens, schema, "llm.llama.n_ctx")

        abandoned = threading.Event()
        eos = model.token_eos()

        def stop_when_abandoned(_ids: Any, logits: Any) -> Any:
            if abandoned.is_set() and schema is None:  # end the text now: nobody waits for it
                logits[:] = -float("inf")
                logits[eos] = 0.0
            return logits

        remaining = deadline - time.monotonic()
        if remaining <= 0 or not lock.acquire(timeout=remaining):
            raise HostError("the local model was busy until the run's deadline", transient=True)
        out: dict[str, Any] = {}
        finished = threading.Event()

        def generate() -> None:
            try:
                out["resp"] = model.create_chat_completion(
                    messages=messages,
                    max_tokens=max_tokens,
                    temperature=0.0 if temperature is None else temperature,
                    response_format={"type": "json_object", "schema": schema} if schema else None,
                    logits_processor=LogitsProcessorList([stop_when_abandoned]),
                )
            except Exception as e:
                out["error"] = e
            finally:
                lock.release()
                finished.set()

        t0 = time.perf_counter()
        # generation runs beside the run, so the run stops waiting at its deadline;
        # an abandoned generation ends at once (or at max_tokens under a schema)
        threading.Thread(target=generate, name="llama-generate", daemon=True).start()
        if not finished.wait(max(0.0, deadline - time.monotonic())):
            abandoned.set()
            raise HostError("the local model did not finish before the run's deadline "
                            "(limits.timeout_s)")  # fmt: skip
        if "error" in out:
            e = out["error"]
            if isinstance(e, ValueError) and "context window" in str(e):  # "Requested tokens
                raise TooLong(f"the local model refused the prompt: {e} (llm.llama.n_ctx)")
            if isinstance(e, ValueError):
                raise HostError(f"the local model refused the prompt: {e}")
            raise HostError(f"the local model failed: {type(e).__name__}: {e}")
        resp = out["resp"]
        choice = resp["choices"][0]
        usage = resp.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            model=Path(str(self.cfg.model_path)).name,
            prompt_tokens=int(usage.get("prompt_tokens", prompt)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_ms=round((time.perf_counter() - t0) * 1000, 1),
            finish_reason=choice.get("finish_reason") or "",
        )
