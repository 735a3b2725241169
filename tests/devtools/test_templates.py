"""Templates: `flows templates`, `flows new` (all or nothing, app.yaml kept as it
was), each scaffolded flow run on its samples, settings schemas, `flows config`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from flows.devtools.templates import TEMPLATES
from flows.errors import ConfigError
from flows.project.config import json_schema, load_config
from flows.project.yamlfile import load_yaml
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
APP_YAML = (ROOT / "app.yaml").read_text()


def flows(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A new user's project: this repository's app.yaml, integrations and functions."""
    shutil.copy(ROOT / "app.yaml", tmp_path / "app.yaml")
    (tmp_path / "integrations").symlink_to(ROOT / "integrations")
    shutil.copytree(ROOT / "functions", tmp_path / "functions",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    return tmp_path


def test_templates_lists_each_with_a_description():
    got = flows("templates", cwd=ROOT)
    assert got.returncode == 0
    names = [line.split()[0] for line in got.stdout.splitlines()]
    assert names == ["code-review", "pr-summary", "issue-triage", "release-notes"]
    assert "Labels new issues" in got.stdout


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_scaffold_then_run_each_sample_dry(project, template):
    name = f"my-{template}"
    got = flows("new", template, name, cwd=project)
    assert got.returncode == 0, got.stderr
    folder = project / "functions" / name.replace("-", "_")
    assert "next steps:" in got.stdout and f"flows run {name} --event" in got.stdout
    # app.yaml: everything that was there is still there, byte for byte; the flow follows
    text = (project / "app.yaml").read_text()
    assert text.startswith(APP_YAML)
    assert f"  # from template {template}: " in text
    flow = load_config(project / "app.yaml").flow(name)
    assert flow.function == folder and flow.integrations == ["github", "llm"]
    assert (folder / "README.md").is_file() and (folder / "flow.yaml").is_file()
    assert f"name: {name}" in (folder / "flow.yaml").read_text()
    assert (folder / "tests" / f"test_{folder.name}.py").is_file()
    samples = sorted((folder / "samples").glob("*.json"))
    assert samples
    for sample in samples:
        run = flows("run", name, "--event", str(sample), "--dry-run", cwd=project)
        assert run.returncode == 0, run.stdout + run.stderr
        report = json.loads(run.stdout)
        assert report["status"] == "ok" and report["dry_run"]
        assert report["writes"] and all(w["dry_run"] for w in report["writes"])
        assert "replaying the recording" in run.stderr


def _untouched(project: Path) -> None:
    assert (project / "app.yaml").read_text() == APP_YAML
    leftovers = [p.name for p in (project / "functions").iterdir() if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such", "bot"], "unknown template 'no-such' (templates: code-review, pr-summary"),
        (["pr-summary", "My Bot"], "'My Bot' is not a valid flow name"),
        (["pr-summary", "1bot"], "is not a valid flow name"),
        (["pr-summary", "class"], "is a Python keyword"),
        (["pr-summary", "code-review"], "a flow named 'code-review' is already in app.yaml"),
        (["issue-triage", "pr-summary"], "functions/pr_summary exists already"),
    ],
)
def test_bad_requests_write_nothing(project, args, message):
    before = sorted(p.name for p in (project / "functions").iterdir())
    got = flows("new", *args, cwd=project)
    assert got.returncode == 2
    assert message in got.stderr
    _untouched(project)
    assert sorted(p.name for p in (project / "functions").iterdir()) == before


def test_broken_app_yaml_is_refused_and_left_as_it_was(project):
    broken = APP_YAML.replace("flows:\n", "flows:\n  bad: [unclosed\n", 1)
    (project / "app.yaml").write_text(broken)
    got = flows("new", "issue-triage", "triage", cwd=project)
    assert got.returncode == 2
    assert "app.yaml:" in got.stderr and "invalid YAML" in got.stderr
    assert (project / "app.yaml").read_text() == broken
    assert not (project / "functions" / "triage").exists()


def test_settings_are_checked_against_the_schema_with_key_paths(project):
    assert flows("new", "pr-summary", "summary", cwd=project).returncode == 0
    cfg = load_config(project / "app.yaml")
    # the schema's defaults are filled in for the function
    assert cfg.flow("summary").settings["max_commits"] == 20
    text = (project / "app.yaml").read_text()
    bad = text.replace(
        "      trigger_phrase: flows summarize",
        "      trigger_phrase: flows summarize\n      max_commits: 0\n      colour: blue",
    )
    (project / "app.yaml").write_text(bad)
    with pytest.raises(ConfigError) as e:
        load_config(project / "app.yaml")
    assert "flows.summary.settings.max_commits: 0 is less than the minimum of 1" in str(e.value)
    assert "'colour' was unexpected" in str(e.value)
    got = flows("config", "check", cwd=project)
    assert got.returncode == 2 and "max_commits" in got.stderr


def test_a_flow_missing_an_integration_its_function_needs(project):
    text = APP_YAML.replace(
        "    function: functions/code_review\n    integrations: [github, llm]",
        "    function: functions/code_review\n    integrations: [github]",
    )
    (project / "app.yaml").write_text(text)
    with pytest.raises(
        ConfigError, match=r"flows.code-review.integrations: the function needs llm"
    ):
        load_config(project / "app.yaml")


def test_config_check_lists_the_flows():
    got = flows("config", "check", cwd=ROOT)
    assert got.returncode == 0, got.stderr
    assert "code-review" in got.stdout and "ok (2 flows)" in got.stdout


def test_config_schema_validates_app_yaml_in_an_editor():
    got = flows("config", "schema", cwd=ROOT)
    assert got.returncode == 0
    schema = json.loads(got.stdout)
    assert schema == json_schema(ROOT / "app.yaml")
    raw = load_yaml(APP_YAML)
    jsonschema.validate(raw, schema)  # ${VAR} values are accepted where numbers go
    raw["flows"]["code-review"]["settings"]["inline_min_severity"] = "urgent"
    with pytest.raises(jsonschema.ValidationError, match="'urgent' is not one of"):
        jsonschema.validate(raw, schema)
    raw = load_yaml(APP_YAML)
    raw["server"]["port"] = "eighty"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, schema)
