"""The package as people install it: the wheel, in a fresh venv, outside any
checkout: `flows init`, `flows serve` on its defaults (/healthz answers, the
start shows its progress) and one replayed template run."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
# what a copy of the checkout leaves out: environments, caches, build outputs
COPY_SKIP = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ruff_cache", "*.db", "*.db-*", ".flows",
)  # fmt: skip


def _env() -> dict[str, str]:
    """This environment, minus whatever would put the checkout on the path."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(cmd: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv with only the wheel (and its dependencies) installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=COPY_SKIP)
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), "."], src
    )
    (wheel,) = (tmp / "dist").glob("flows-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for inside in (
        "flows/_builtin/migrations/env.py",
        "flows/_builtin/integrations/github/app.py",
        "flows/_builtin/integrations/llm/world.wit",
        "flows/_builtin/functions/code_review/app.py",
        "flows/_builtin/functions/issue_triage/samples/issues.opened.json",
        "flows/guest/diff.py",
        "flows/guest_dev/flows_dev.py",
        "flows/guest_dev/dev.wit",
        "flows/server/console/templates/base.html",
    ):
        assert inside in names, f"the wheel lacks {inside}"
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp)
    _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], tmp)
    return venv / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_package_comes_from_the_venv_not_the_checkout(installed, tmp_path):
    p = _run([str(installed / "python"), "-c", "import flows; print(flows.__file__)"], tmp_path)
    where = Path(p.stdout.strip())
    assert "site-packages" in where.parts and ROOT not in where.parents


def test_init_serve_and_a_replayed_template_run(installed, tmp_path):
    flows = str(installed / "flows")
    init = _run([flows, "init", "bots", "--template", "code-review", "--template", "issue-triage"],
                tmp_path)  # fmt: skip
    project = tmp_path / "bots"
    assert "/setup" in (project / "README.md").read_text()
    assert (project / "functions" / "issue_triage" / "app.py").is_file()
    assert not (project / "integrations").exists()  # the built-in ones serve
    assert "flows serve" in init.stdout

    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [flows, "serve", "--port", str(port)], cwd=project, env=_env(),
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.3)
            assert proc.poll() is None, log.read_text()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                assert r.status == 200
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    text = log.read_text()
    assert "migrate [3/3]" in text  # a fresh SQLite database in the project folder
    # code_review, issue_triage and the built-in github and llm integrations
    assert "build [4/4]" in text and "compile [4/4]" in text, text
    assert f"flows: ready on http://127.0.0.1:{port}" in text
    assert (project / "flows.db").is_file()

    sample = "functions/issue_triage/samples/issues.opened.json"
    run = subprocess.run(
        [flows, "run", "issue-triage", "--event", sample, "--dry-run"], cwd=project, env=_env(),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["status"] == "ok", report
    assert "<sub>issue-triage: looks like a" in json.dumps(report["writes"])
