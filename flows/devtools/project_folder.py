"""`flows init DIR`: a project folder outside any checkout.

It holds app.yaml (with comments), the chosen templates copied into
functions/, a .gitignore and a README. The integrations, migrations and the
guest library stay built in (flows.builtin); a project's own integrations/
or functions/ folders override or add to them. All or nothing: the folder is
made in a staging folder beside it and moved into place at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from flows.devtools.templates import (
    COPY_IGNORE,
    ScaffoldError,
    Template,
    add_flow_text,
    flow_entry,
    folder_name,
    get_template,
    personalize,
)
from flows.project.config import parse_config

DEFAULT_TEMPLATES = ("code-review",)

APP_YAML = """\
# flows configuration, made by `flows init`. Values may use ${VAR} and
# ${VAR:-default}; relative paths resolve against this file's folder.
# Check it with `flows config check`; `flows config schema` gives editors a schema.

# SQLite in this folder by default. Past one machine: PostgreSQL, e.g.
#   postgresql+psycopg://user@127.0.0.1/flows   (then `flows worker` processes)
database:
  url: ${FLOWS_DATABASE_URL:-sqlite:///flows.db}

# where the webhook API listens; set public_url to the address GitHub calls
server: {host: 127.0.0.1, port: 8000, workers: 2}

# The GitHub App. Easiest: start `flows serve` and open /setup, which registers
# an App with GitHub and keeps its credentials in .flows/ (never committed).
# Or set these from an App made by hand:
github:
  api_url: ${GITHUB_API_URL:-https://api.github.com}
  app_id: ${GITHUB_APP_ID}
  private_key_path: ${GITHUB_APP_PRIVATE_KEY_PATH}
  webhook_secret: ${GITHUB_WEBHOOK_SECRET}

# The model behind the llm integration: any OpenAI-compatible server, or a
# local GGUF file with `backend: llama` (pip install 'flows[llama]').
llm:
  backend: openai
  openai: {base_url: https://api.openai.com/v1, api_key: "${OPENAI_API_KEY}", model: gpt-4o-mini}
  llama: {model_path: models/model.gguf, n_ctx: 8192, n_gpu_layers: -1}

# Each flow: its function (functions/NAME), the integrations it may use, the
# events it answers, its limits and settings. `flows new TEMPLATE NAME` adds one.
flows:
"""

GITIGNORE = """\
# flows: the database, the App's credentials, local models
*.db
*.db-wal
*.db-shm
.flows/
models/
__pycache__/
.pytest_cache/
"""


def _readme(flows: list[tuple[str, Template, str]]) -> str:
    lines = [
        "# flows project",
        "",
        "Made by `flows init`. Each folder under `functions/` is one bot (a flow),",
        "run as a sandboxed WebAssembly component; `app.yaml` says which events",
        "start it and what it may use.",
        "",
        "## Start",
        "",
        "```sh",
        "flows serve",
        "```",
        "",
        "Then open <http://127.0.0.1:8000/setup> to register the GitHub App and",
        "install it on your repositories. `GET /healthz` answers once it is up.",
        "",
        "## The flows",
        "",
    ]
    for name, t, folder in flows:
        lines.append(f"- `{name}` (functions/{folder}): {t.manifest.description}")
    lines += ["", "## Change one", ""]
    name, _, folder = flows[0]
    samples = sorted(p.name for p in (flows[0][1].folder / "samples").glob("*.json"))
    lines.append("```sh")
    if samples:
        lines.append(f"flows run {name} --event functions/{folder}/samples/{samples[0]} --dry-run")
    lines += [
        f"flows dev {name}          # reruns it each time you save functions/{folder}/",
        f"python -m pytest functions/{folder}",
        "flows new TEMPLATE NAME   # another bot from a template (`flows templates`)",
        "```",
        "",
    ]
    return "\n".join(lines)


def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise ScaffoldError(f"{target} is a file, not a folder")
    if target.is_dir():
        entries = sorted(p.name for p in target.iterdir())
        if entries and not force:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise ScaffoldError(
                f"{target} is not empty ({shown}); choose a new folder, or pass --force "
                "to add a project to it (existing files are never overwritten)"
            )


def init_project(target: Path, templates: list[str] | None = None, force: bool = False) -> Path:
    """Make a project folder at `target` with the named templates (default:
    code-review); raise ScaffoldError (nothing written) when it cannot."""
    names = list(templates or DEFAULT_TEMPLATES)
    chosen = [get_template(n) for n in dict.fromkeys(names)]  # unknown names fail here
    target = target.expanduser().absolute()
    _check_target(target, force)
    flows = [(t.name, t, folder_name(t.name)) for t in chosen]
    files = ["app.yaml", ".gitignore", "README.md", "functions"]
    clash = [f for f in files if (target / f).exists()]
    if clash:
        raise ScaffoldError(
            f"{target} already has {', '.join(clash)}; flows init never overwrites files "
            "(use `flows new TEMPLATE NAME` to add a flow to a project)"
        )
    text = APP_YAML
    for name, t, folder in flows:
        comment = f"from template {t.name}: {t.manifest.description}"
        text = add_flow_text(text, name, flow_entry(t, folder), comment, "app.yaml")
    parent = target if target.is_dir() else target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f".flows-init-{secrets.token_hex(4)}"
        staging.mkdir()  # not mkdtemp: the project folder gets the umask's mode
    except OSError as e:
        raise ScaffoldError(f"cannot write to {parent}: {e.strerror or e}") from None
    moved: list[Path] = []
    try:
        (staging / "app.yaml").write_text(text, encoding="utf-8")
        (staging / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
        (staging / "README.md").write_text(_readme(flows), encoding="utf-8")
        for name, t, folder in flows:
            shutil.copytree(t.folder, staging / "functions" / folder, ignore=COPY_IGNORE)
            personalize(staging / "functions" / folder, t, name, folder)
        parse_config(text, staging, source=str(target / "app.yaml"))  # what serve will load
        if target.is_dir():
            for f in files:
                os.rename(staging / f, target / f)
                moved.append(target / f)
        else:
            os.rename(staging, target)
    except OSError as e:
        for p in moved:
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        raise ScaffoldError(f"cannot write {target}: {e.strerror or e}; nothing was kept") from None
    except BaseException:
        for p in moved:
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def next_steps(target: Path, templates: list[str] | None) -> str:
    names = list(dict.fromkeys(templates or DEFAULT_TEMPLATES))
    shown = os.path.relpath(target) if not os.path.relpath(target).startswith("..") else target
    lines = [
        f"created {shown}/ with {', '.join(names)}",
        "",
        "next steps:",
        f"  cd {shown}",
        "  flows serve                 (builds the flows, then listens on 127.0.0.1:8000)",
        "  open http://127.0.0.1:8000/setup to register the GitHub App",
        f"  flows dev {names[0]:<17} (reruns the flow on a sample each time you save)",
    ]
    return "\n".join(lines)
