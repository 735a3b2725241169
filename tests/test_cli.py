"""`flows build` and `flows run`: reports and exit codes 0/1/2."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import COMPONENTS, TOKEN
from tests.fakes.github import FIXTURES, load_fixture

pytestmark = pytest.mark.slow
FLOWS = [sys.executable, "-m", "flows.cli"]


def flows(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [*FLOWS, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


@pytest.fixture
def gh_env(fake_github):
    fake_github.add_repo_from_event(load_fixture("pull_request.opened.json"))
    return {"FLOWS_TEST_GITHUB_URL": fake_github.url, "FLOWS_TEST_GITHUB_TOKEN": TOKEN}


def event_file(tmp_path: Path, mode: str) -> Path:
    payload = load_fixture("pull_request.opened.json")
    payload["mode"] = mode
    f = tmp_path / f"{mode}.json"
    f.write_text(json.dumps(payload))
    return f


def test_build_twice_second_is_all_cached():
    cfg = str(COMPONENTS / "app.yaml")
    assert flows("build", "--config", cfg).returncode == 0
    again = flows("build", "--config", cfg)
    assert again.returncode == 0
    lines = again.stdout.strip().splitlines()
    assert all(line.startswith("cached") for line in lines[:-1])
    from flows.project.config import load_config
    from flows.sandbox.build import project_components

    n = len(project_components(load_config(COMPONENTS / "app.yaml")))
    assert n >= 8 and lines[-1].startswith(f"{n} components")


def test_run_ok_prints_report_exit_0(tmp_path, gh_env, fake_github):
    cfg = str(COMPONENTS / "app.yaml")
    p = flows("run", "probe", "--event", str(event_file(tmp_path, "ok")), "--dry-run",
              "--config", cfg, env=gh_env)  # fmt: skip
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["status"] == "ok" and report["dry_run"] is True
    assert report["writes"][0]["dry_run"] is True
    assert report["event"] == "pull_request" and report["action"] == "opened"
    for key in ("logs", "duration_ms", "resources", "llm", "timings_ms"):
        assert key in report
    assert TOKEN not in p.stdout + p.stderr


def test_run_flow_failure_exit_1(tmp_path, gh_env):
    cfg = str(COMPONENTS / "app.yaml")
    p = flows("run", "probe", "--event", str(event_file(tmp_path, "raise")), "--config", cfg,
              env=gh_env)  # fmt: skip
    assert p.returncode == 1
    report = json.loads(p.stdout)
    assert report["status"] == "failed"
    assert report["error"]["kind"] == "exception"
    assert "ValueError: boom" in p.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--event", str(FIXTURES / "ping.json")], "unknown flow 'nope'"),
        (["probe", "--event", "/nonexistent.json"], "no such event file"),
        (["direct", "--event", str(FIXTURES / "ping.json")], "imports host capability"),
    ],
)
def test_run_bad_input_exit_2(args, message):
    p = flows("run", *args, "--config", str(COMPONENTS / "app.yaml"))
    assert p.returncode == 2
    assert json.loads(p.stdout)["status"] == "error"
    assert message in p.stderr


def test_run_event_not_json_exit_2(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text("{nope")
    p = flows("run", "probe", "--event", str(f), "--config", str(COMPONENTS / "app.yaml"))
    assert p.returncode == 2
    assert "not JSON" in json.loads(p.stdout)["error"]["message"]


def test_bad_config_exit_2(tmp_path):
    (tmp_path / "app.yaml").write_text("server: {port: nope}\n")
    p = flows("build", "--config", str(tmp_path / "app.yaml"))
    assert p.returncode == 2
    assert "server.port" in p.stderr


def test_fresh_copy_of_repository_builds_and_runs(tmp_path, fake_github):
    """`flows build && flows run` on a copy of the repository's own project."""
    root = Path(__file__).parent.parent
    for name in ("functions", "integrations", "app.yaml"):
        src = root / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, tmp_path / name)
    env = {"GITHUB_API_URL": fake_github.url, "GITHUB_TOKEN": TOKEN}
    cfg = str(tmp_path / "app.yaml")
    assert flows("build", "--config", cfg, env=env).returncode == 0
    ev = FIXTURES / "pull_request.opened.json"
    fake_github.add_repo_from_event(load_fixture("pull_request.opened.json"))
    p = flows("run", "pr-size", "--event", str(ev), "--dry-run", "--config", cfg, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["result"]["label"].startswith("size/")


def _two_function_project(tmp_path: Path) -> Path:
    """A project whose `ok` function builds and whose `broken` one does not."""
    shutil.copytree(COMPONENTS / "wit", tmp_path / "wit")
    fns = tmp_path / "functions"
    shutil.copytree(COMPONENTS / "functions" / "direct", fns / "ok")
    shutil.copytree(COMPONENTS / "functions" / "direct", fns / "broken")
    (fns / "broken" / "app.py").write_text("import json\n\ndef broken(:\n    pass\n")
    cfg = tmp_path / "app.yaml"
    cfg.write_text(
        "flows:\n  ok: {function: functions/ok}\n  broken: {function: functions/broken}\n"
    )
    return cfg


def test_build_failure_among_several_names_it_and_exits_2(tmp_path):
    cfg = _two_function_project(tmp_path)
    p = flows("build", "--config", str(cfg))
    assert p.returncode == 2, p.stdout + p.stderr
    assert "error: 1 of 2 components failed to build:" in p.stderr
    assert f"{tmp_path}/functions/broken/app.py:3: SyntaxError" in p.stderr
    # the other one finished: its line says so and its cache entry is whole
    assert "function ok: " in p.stderr and "function broken: failed" in p.stderr
    from flows.sandbox.build import ComponentSource, cache_dir, digest

    ok = digest(ComponentSource("function", "ok", tmp_path / "functions" / "ok", tmp_path / "wit"))
    assert (cache_dir() / "components" / f"{ok}.wasm").is_file()


def test_serve_stops_with_exit_2_when_a_component_fails_to_build(tmp_path):
    cfg = _two_function_project(tmp_path)
    p = flows("serve", "--config", str(cfg), "--port", "0")
    assert p.returncode == 2, p.stdout + p.stderr
    assert f"{tmp_path}/functions/broken/app.py:3: SyntaxError" in p.stderr
    assert "ready on" not in p.stderr


def test_ctrl_c_during_a_build_keeps_no_partial_entry(tmp_path):
    """SIGINT to `flows build` (the process only, as a terminal's Ctrl-C would
    reach it if its children ignored it): exit 130, componentize-py stopped,
    no temporary file or half-written component left in the cache."""
    import os
    import signal
    import time

    cfg = _two_function_project(tmp_path)
    (tmp_path / "functions" / "broken").rename(tmp_path / "functions" / "slow")
    (tmp_path / "functions" / "slow" / "app.py").write_text(
        (COMPONENTS / "functions" / "direct" / "app.py").read_text() + "\n# a new digest\n"
    )
    cfg.write_text("flows:\n  slow: {function: functions/slow}\n")
    cache = tmp_path / "cache"
    env = {**os.environ, "FLOWS_CACHE_DIR": str(cache)}
    proc = subprocess.Popen(
        [*FLOWS, "build", "--config", str(cfg)], env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _componentize_running(proc.pid):
        time.sleep(0.1)
    assert _componentize_running(proc.pid), "componentize-py never started"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # nothing of its process group is left running
    left = sorted(p.name for p in (cache / "components").iterdir())
    assert left == [], left


def _componentize_running(pid: int) -> bool:
    """Whether a componentize-py child of `pid` runs (Linux /proc)."""
    from pathlib import Path as P

    for stat in P("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"componentize" in cmd:
            return True
    return False
