"""app.yaml: loading, `${VAR}` interpolation, validation with key paths."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from flows import builtin
from flows.errors import ConfigError
from flows.project.manifest import load_manifest, settings_problems, with_defaults
from flows.project.textfile import read_text
from flows.project.yamlfile import load_yaml

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
FLOW_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `${VAR}` with VAR unset interpolates to "": treat it as not given.
        return None if value == "" else value


class DatabaseConfig(_Model):
    url: str = "sqlite:///flows.db"


class ServerConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # worker threads in `flows serve` (and the default for `flows worker`)
    workers: int = Field(2, ge=0, le=256)
    # the address GitHub reaches this server at (for /setup); default: the request's
    public_url: str | None = None
    # a webhook body must arrive within this time (GitHub sends within 10 s)
    body_timeout_s: float = Field(10.0, gt=0, le=300)
    # what all webhook bodies being received at once, before their signature
    # is checked, may hold in memory; more waits are refused with 503
    pending_bodies_mb: int = Field(100, ge=1, le=4096)


class QueueConfig(_Model):
    # a claimed job is reclaimed by another worker when its lease runs out
    lease_s: float = Field(60.0, ge=1, le=3600)
    # attempts for transient failures before the job is dead-lettered
    max_attempts: int = Field(5, ge=1, le=50)
    backoff_base_s: float = Field(10.0, gt=0, le=3600)
    backoff_max_s: float = Field(900.0, gt=0, le=86400)
    # how long an idle worker waits before looking for work again
    poll_s: float = Field(0.5, gt=0, le=60)


class GithubConfig(_Model):
    api_url: str = "https://api.github.com"
    app_id: int | None = None
    private_key_path: Path | None = None
    webhook_secret: SecretStr | None = None
    # A personal access token, used instead of App auth (handy for `flows run`).
    token: SecretStr | None = None
    timeout_s: float = Field(30.0, gt=0, le=600)
    # PyGithub's spacing between requests and between writes within a run
    request_interval_s: float = Field(0.25, ge=0, le=10)
    write_interval_s: float = Field(1.0, ge=0, le=10)
    # where `GET /setup` stores the App it registers; read when app_id is unset
    credentials_file: Path = Path(".flows/github-app.json")

    @property
    def web_url(self) -> str:
        """The web address matching api_url (github.com, or a GHES host)."""
        api = self.api_url.rstrip("/")
        if api == "https://api.github.com":
            return "https://github.com"
        return api.removesuffix("/api/v3")


MIN_WINDOW = 2048


def _window_at_least(value: int) -> int:
    if value < MIN_WINDOW:
        raise ValueError(
            f"{value} tokens is too small to hold a flow's instructions, a piece of a diff "
            f"and a reply; flows needs a context window of at least {MIN_WINDOW} tokens"
        )
    return value


class OpenAIConfig(_Model):
    base_url: str = "https://api.openai.com/v1"
    api_key: SecretStr | None = None
    model: str = "gpt-4o-mini"
    organization: str | None = None
    # extra HTTP headers (e.g. for a gateway); their values are treated as secrets
    headers: dict[str, str] = {}
    timeout_s: float = Field(120.0, gt=0, le=3600)
    # retries on 429, 5xx, timeouts and connection errors, with backoff
    max_retries: int = Field(3, ge=0, le=10)
    # how a JSON schema is enforced: auto tries json_schema, then json_object with the
    # schema, then plain json_object, then the schema in the prompt, and remembers
    # per server the first one it accepts
    structured_output: Literal[
        "auto", "json_schema", "json_object_schema", "json_object", "prompt"
    ] = "auto"
    # the model's context window in tokens, a hard limit on every request
    context_window: int = 128000
    # model calls of one run sent at once (a chunked review's chunks side by side)
    max_concurrency: int = Field(4, ge=1, le=64)
    # how tokens are counted: auto uses the server's tokenize endpoint where it has
    # one, else tiktoken's encoding for an OpenAI model where installed, else an
    # estimate that errs high
    tokenizer: Literal["auto", "server", "tiktoken", "estimate"] = "auto"

    @field_validator("context_window")
    @classmethod
    def _window(cls, value: int) -> int:
        return _window_at_least(value)


class LlamaConfig(_Model):
    model_path: Path | None = None
    n_ctx: int = 8192
    # -1 offloads every layer to the GPU (when llama.cpp was built with CUDA); 0: CPU only
    n_gpu_layers: int = -1
    n_threads: int | None = Field(None, ge=1)
    # None: the chat template stored in the GGUF
    chat_format: str | None = None
    seed: int = 0

    @field_validator("n_ctx")
    @classmethod
    def _window(cls, value: int) -> int:
        return _window_at_least(value)


class LLMConfig(_Model):
    backend: Literal["openai", "llama"] = "openai"
    openai: OpenAIConfig = OpenAIConfig()
    llama: LlamaConfig = LlamaConfig()


class MemoryConfig(_Model):
    # a value bigger than this is refused
    max_value_kb: int = Field(64, ge=1, le=16384)
    # per repository (long- and short-term together); the oldest go first
    max_repo_mb: float = Field(10.0, gt=0, le=10240)
    max_repo_items: int = Field(10000, ge=10, le=10_000_000)
    # a closed pull request's memory is forgotten this long after it closes
    pr_retention_days: float = Field(30.0, ge=0, le=3650)


class Limits(_Model):
    timeout_s: float = Field(300.0, gt=0, le=3600)
    memory_mb: int = Field(512, ge=32, le=4096)
    # Wasm instructions (roughly) per component; None means no fuel limit.
    fuel: int | None = Field(None, gt=0)


class FlowConfig(_Model):
    function: Path
    integrations: list[str] = []
    memory: bool = False
    on: dict[str, list[str]] = {}
    limits: Limits = Limits()
    settings: dict[str, Any] = {}

    def triggered_by(self, event: str, action: str | None) -> bool:
        """Whether `on:` matches this event (an empty action list means any action)."""
        if event not in self.on:
            return False
        actions = self.on[event]
        return not actions or action in actions


class ConsoleConfig(_Model):
    # the operator console at / (off unless enabled)
    enabled: bool = False
    # signs in a browser at /console/sign-in, or as `Authorization: Bearer` for scripts
    admin_token: SecretStr | None = None
    # GitHub logins that may sign in with GitHub (the App's OAuth client from /setup)
    admins: list[str] = []
    # signs session cookies; default: a random one per process (sessions end on restart)
    session_secret: SecretStr | None = None
    session_hours: float = Field(12.0, gt=0, le=24 * 30)

    @field_validator("admin_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 24`)")
        return value


class AppConfig(_Model):
    database: DatabaseConfig = DatabaseConfig()
    server: ServerConfig = ServerConfig()
    queue: QueueConfig = QueueConfig()
    memory: MemoryConfig = MemoryConfig()
    github: GithubConfig = GithubConfig()
    llm: LLMConfig = LLMConfig()
    console: ConsoleConfig = ConsoleConfig()
    flows: dict[str, FlowConfig] = {}
    # Folder holding app.yaml; relative paths resolve against it.
    root: Path = Field(default=Path("."), exclude=True)

    def integration_dir(self, name: str) -> Path:
        """The project's own integrations/NAME, else the built-in one of that name."""
        own = self.root / "integrations" / name
        if (own / "app.py").is_file():
            return own
        shipped = builtin.folder("integrations") / name
        return shipped if (shipped / "app.py").is_file() else own

    def flow(self, name: str) -> FlowConfig:
        try:
            return self.flows[name]
        except KeyError:
            known = ", ".join(sorted(self.flows)) or "none"
            raise ConfigError(f"unknown flow {name!r} (flows in app.yaml: {known})") from None


def interpolate(value: Any, env: dict[str, str] | None = None, where: str = "") -> Any:
    """Replace `${VAR}` and `${VAR:-default}` in every string of a YAML tree."""
    env = os.environ if env is None else env
    if isinstance(value, dict):
        return {
            k: interpolate(v, env, f"{where}.{k}" if where else str(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        got = env.get(name, "")
        return got if got != "" or default is None else default

    if "${" in _VAR.sub("", value):  # the value may be a secret: never quote it
        raise ConfigError(
            f"{where}: malformed variable reference (use ${{NAME}} or ${{NAME:-default}}, "
            "and $${ for a literal ${)"
        )
    return _VAR.sub(sub, value)


def _function_dir(root: Path, function: Path) -> Path:
    """A flow's function folder: the project's own, else (for `functions/NAME`)
    the built-in function of that name."""
    own = (root / function).resolve()
    parts = function.parts
    if (own / "app.py").is_file() or function.is_absolute() or len(parts) != 2:
        return own
    shipped = builtin.folder("functions") / parts[1]
    return shipped if parts[0] == "functions" and (shipped / "app.py").is_file() else own


def builtin_integrations() -> list[str]:
    home = builtin.folder("integrations")
    return sorted(d.name for d in home.iterdir() if (d / "app.py").is_file())


def _resolve_paths(cfg: AppConfig) -> None:
    root = cfg.root
    for flow in cfg.flows.values():
        flow.function = _function_dir(root, flow.function)
    cfg.github.credentials_file = (root / cfg.github.credentials_file).resolve()
    if cfg.github.private_key_path is not None:
        cfg.github.private_key_path = (root / cfg.github.private_key_path).resolve()
    if cfg.llm.llama.model_path is not None:
        cfg.llm.llama.model_path = (root / cfg.llm.llama.model_path).resolve()
    url = cfg.database.url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        cfg.database.url = prefix + str((root / url[len(prefix) :]).resolve())


def _check_references(cfg: AppConfig) -> list[str]:
    problems = []
    for name, flow in cfg.flows.items():
        if not FLOW_NAME.match(name):
            problems.append(f"flows.{name}: a flow name is lower-case letters, digits, - and _")
        if not (flow.function / "app.py").is_file():
            problems.append(f"flows.{name}.function: no app.py in {flow.function}")
        for i, integ in enumerate(flow.integrations):
            if not (cfg.integration_dir(integ) / "app.py").is_file():
                problems.append(
                    f"flows.{name}.integrations[{i}]: no integration {integ!r} "
                    f"(expected {cfg.integration_dir(integ)}/app.py; built in: "
                    f"{', '.join(builtin_integrations())})"
                )
        problems += _check_manifest(name, flow)
    return problems


def _check_manifest(name: str, flow: FlowConfig) -> list[str]:
    """What the function's flow.yaml asks of its flow; fills in default settings."""

    try:
        m = load_manifest(flow.function)
    except ConfigError as e:
        return [f"flows.{name}.function: {e}"]
    if m is None:
        return []
    problems = []
    missing = [i for i in m.integrations if i not in flow.integrations]
    if missing:
        problems.append(
            f"flows.{name}.integrations: the function needs {', '.join(missing)} ({m.path})"
        )
    if m.memory and not flow.memory:
        problems.append(f"flows.{name}.memory: the function uses memory; set `memory: true`")
    if m.settings_schema is not None:
        found = settings_problems(flow.settings, m.settings_schema, f"flows.{name}.settings")
        problems += found
        if not found:
            flow.settings = with_defaults(flow.settings, m.settings_schema)
    return problems


def validation_lines(err: ValidationError) -> list[str]:
    """Each pydantic error as `key.path: reason`."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{loc}: {e['msg']}")
    return lines


def parse_config(text: str, root: Path, source: str = "app.yaml") -> AppConfig:
    """Parse and validate app.yaml text; raise ConfigError naming every bad key."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, not {type(raw).__name__}")
    raw = interpolate(raw)
    try:
        cfg = AppConfig.model_validate({**raw, "root": root.resolve()})
    except ValidationError as e:
        raise ConfigError(f"{source} is invalid:\n  " + "\n  ".join(validation_lines(e))) from None
    _resolve_paths(cfg)
    problems = _check_references(cfg)
    if problems:
        raise ConfigError(f"{source} is invalid:\n  " + "\n  ".join(problems))
    return cfg


def load_config(path: str | Path) -> AppConfig:
    """Load app.yaml from disk."""
    path = Path(path)
    text = read_text(path, "config file", ConfigError)
    return parse_config(text, path.parent, source=str(path))


_VAR_STRING = {"type": "string", "pattern": r"\$\{[A-Za-z_]"}


def _scalar_not_string(prop: dict[str, Any]) -> bool:
    types = {prop.get("type")} | {x.get("type") for x in prop.get("anyOf", [])}
    return bool(types & {"integer", "number", "boolean"}) and "string" not in types


def _allow_vars(schema: Any) -> Any:
    """Let every non-string value also be a `${VAR}` string, as app.yaml allows."""
    if isinstance(schema, dict):
        out = {k: _allow_vars(v) for k, v in schema.items()}
        props = out.get("properties")
        if isinstance(props, dict):
            for key, prop in props.items():
                if isinstance(prop, dict) and _scalar_not_string(prop):
                    props[key] = {"anyOf": [prop, _VAR_STRING]}
        return out
    if isinstance(schema, list):
        return [_allow_vars(v) for v in schema]
    return schema


def json_schema(config_path: Path | None = None) -> dict[str, Any]:
    """JSON Schema of app.yaml; with a readable app.yaml, each flow's `settings`
    gets the schema from its function's flow.yaml."""

    schema = AppConfig.model_json_schema()
    schema["properties"].pop("root", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "flows app.yaml"
    raw: Any = None
    if config_path is not None and Path(config_path).is_file():
        try:
            raw = load_yaml(Path(config_path).read_text(encoding="utf-8"))
        except yaml.YAMLError:
            raw = None
    flows = raw.get("flows") if isinstance(raw, dict) else None
    per_flow = {}
    for name, flow in (flows or {}).items():
        function = flow.get("function") if isinstance(flow, dict) else None
        if not isinstance(function, str):
            continue
        try:
            m = load_manifest(Path(config_path).parent / function)
        except ConfigError:
            continue
        if m is not None and m.settings_schema is not None:
            per_flow[name] = {
                "allOf": [{"$ref": "#/$defs/FlowConfig"}],
                "properties": {"settings": m.settings_schema},
            }
    if per_flow:
        schema["properties"]["flows"]["properties"] = per_flow
    return _allow_vars(schema)
