"""What the evaluate tests share: a project whose review flow talks to a
scripted OpenAI-compatible model (respx), and a clone of this repository
with a branch that breaks its API and adds a risk."""

from __future__ import annotations

import subprocess
from pathlib import Path

from flows.capabilities.github.local import LocalRepository
from flows.project.config import AppConfig, load_config
from tests.conftest import ROOT, make_project
from tests.functions.code_review.fixtures import CODE_REVIEW

BASE_URL = "https://llm.eval.test/v1"
LLM = f"""
llm:
  backend: openai
  openai: {{base_url: "{BASE_URL}", api_key: "sk-eval-0123456789", model: m, max_retries: 1,
            timeout_s: 5}}
"""


def project(root: Path, llm: str = LLM) -> Path:
    """app.yaml of a project with the code-review flow."""
    return make_project(root, CODE_REVIEW, f"database: {{url: 'sqlite:///{root}/app.db'}}\n{llm}")


def config(root: Path) -> AppConfig:
    return load_config(project(root))


RISKY = '''

def run_hook(command: str) -> int:
    """Run a user's hook command."""
    import subprocess

    return subprocess.run(command, shell=True).returncode
'''


def clone_with_branch(dest: Path) -> LocalRepository:
    """This repository cloned, with branches `base` (its last commit) and
    `pr`: a real edit of flows/ that removes a public error class and adds
    a shell command built from a value."""
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(dest)], check=True)
    repo = LocalRepository.open(dest)
    repo.git("config", "user.name", "Octo Cat")
    repo.git("config", "user.email", "octocat@example.com")
    repo.git("config", "commit.gpgsign", "false")
    repo.git("checkout", "-q", "-b", "base")
    repo.git("checkout", "-q", "-b", "pr")
    errors = dest / "flows" / "errors.py"
    text = errors.read_text()
    start = text.index("class LinkError")
    end = text.index("class EventError")
    errors.write_text(text[:start] + text[end:])
    watch = dest / "flows" / "devtools" / "watch.py"
    watch.write_text(watch.read_text() + RISKY)
    repo.git("commit", "-q", "-am", "Drop LinkError; run hooks\n\nHooks run through the shell.")
    return repo
