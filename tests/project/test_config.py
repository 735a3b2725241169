"""app.yaml: interpolation, defaults, relative paths, errors with key paths."""

from pathlib import Path

import pytest

from flows import builtin
from flows.errors import ConfigError
from flows.project.config import interpolate, load_config, parse_config

ROOT = Path(__file__).parents[2]


def _project(tmp_path: Path) -> Path:
    fn = tmp_path / "functions" / "f"
    fn.mkdir(parents=True)
    (fn / "app.py").write_text("")
    integ = tmp_path / "integrations" / "github"
    integ.mkdir(parents=True)
    (integ / "app.py").write_text("")
    return tmp_path


def test_repository_app_yaml_loads():
    cfg = load_config(ROOT / "app.yaml")
    assert "pr-size" in cfg.flows
    assert cfg.flows["pr-size"].triggered_by("pull_request", "opened")
    assert cfg.database.url.startswith("sqlite:////")  # resolved against the file


def test_interpolation_with_defaults():
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("${A}", env) == "1"
    assert interpolate("${B:-x}", env) == "x"
    assert interpolate("${EMPTY:-d}", env) == "d"
    assert interpolate("${B}", env) == ""
    assert interpolate("cost $$5 ${A}", env) == "cost $5 1"
    assert interpolate({"k": ["${A}", 2]}, env) == {"k": ["1", 2]}


def test_malformed_reference_names_key():
    with pytest.raises(ConfigError, match=r"github\.api_url: malformed variable"):
        interpolate({"github": {"api_url": "${oops"}}, {})


def test_a_malformed_reference_never_quotes_the_value():
    # the value is often a secret: the error names the key, not what it holds
    secret = "hunter2-${not-closed"
    with pytest.raises(ConfigError) as e:
        interpolate({"github": {"webhook_secret": secret}}, {})
    assert "github.webhook_secret" in str(e.value) and "hunter2" not in str(e.value)
    with pytest.raises(ConfigError, match="malformed"):
        interpolate("${A} then ${oops", {"A": "1"})  # one good reference does not excuse it
    assert interpolate("literal $${HOME}", {}) == "literal ${HOME}"


def test_on_key_and_relative_paths(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.setenv("MY_SECRET", "s3cr3t")
    cfg = parse_config(
        """
github: {webhook_secret: "${MY_SECRET}", app_id: "${UNSET_APP_ID}"}
flows:
  f:
    function: functions/f
    integrations: [github]
    on: {pull_request: [opened], issue_comment: []}
""",
        root,
    )
    flow = cfg.flows["f"]
    assert flow.function == (root / "functions" / "f").resolve()
    assert flow.triggered_by("pull_request", "opened")
    assert not flow.triggered_by("pull_request", "closed")
    assert flow.triggered_by("issue_comment", "created")  # empty list: any action
    assert cfg.github.webhook_secret.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(cfg)
    assert cfg.github.app_id is None  # unset variable -> not configured


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server: {port: 70000}", "server.port: Input should be less than or equal to 65535"),
        ("llm: {backend: gpt}", "llm.backend: Input should be 'openai' or 'llama'"),
        ("flows: {f: {function: functions/f, limits: {timeout_s: 0}}}", "flows.f.limits.timeout_s"),
        ("flows: {f: {function: functions/f, limtis: {}}}", "flows.f.limtis: Extra inputs"),
        ("flows: {f: {function: functions/nope}}", "flows.f.function: no app.py"),
        (
            "flows: {f: {function: functions/f, integrations: [nope]}}",
            "flows.f.integrations[0]: no integration 'nope'",
        ),
        ("flows: {Bad Name: {function: functions/f}}", "flows.Bad Name: a flow name"),
        ("flows: {f: {}}", "flows.f.function: Field required"),
        ("- a list", "top level must be a mapping"),
        (
            "llm: {openai: {context_window: 1024}}",
            "llm.openai.context_window: Value error, 1024 tokens is too small",
        ),
        ("llm: {llama: {n_ctx: 512}}", "llm.llama.n_ctx: Value error, 512 tokens is too small"),
        ("llm: {openai: {max_concurrency: 0}}", "llm.openai.max_concurrency"),
        ("llm: {openai: {tokenizer: bert}}", "llm.openai.tokenizer: Input should be"),
        ("server:\n  port: [1,\n", "app.yaml:"),
    ],
)
def test_bad_config_names_key_and_reason(tmp_path, text, message):
    with pytest.raises(ConfigError) as e:
        parse_config(text, _project(tmp_path))
    assert message in str(e.value)


def test_yaml_syntax_error_has_line(tmp_path):
    with pytest.raises(ConfigError, match=r"app\.yaml:3:\d+: invalid YAML: mapping values"):
        parse_config("flows:\n  f: 1\n  g: a: b\n", tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_flow_lists_known(tmp_path):
    cfg = parse_config("flows: {f: {function: functions/f}}", _project(tmp_path))
    with pytest.raises(ConfigError, match=r"unknown flow 'g' \(flows in app.yaml: f\)"):
        cfg.flow("g")


def test_built_in_integrations_and_functions_fill_in_for_a_project(tmp_path):
    # a project folder with no integrations/ (as `flows init` makes) uses the
    # built-in ones; `functions/NAME` it does not have is the built-in function
    cfg = parse_config(
        "flows:\n  r: {function: functions/code_review, integrations: [github, llm],"
        " memory: true}\n",
        tmp_path,
    )
    assert cfg.flows["r"].function == builtin.folder("functions") / "code_review"
    assert cfg.integration_dir("llm") == builtin.folder("integrations") / "llm"
    with pytest.raises(ConfigError, match=r"built in: github, llm"):
        parse_config("flows: {f: {function: functions/pr_size, integrations: [x]}}", tmp_path)


def test_a_project_s_own_folders_override_the_built_in_ones(tmp_path):
    root = _project(tmp_path)  # its own integrations/github and functions/f
    mine = root / "functions" / "code_review"
    mine.mkdir()
    (mine / "app.py").write_text("")
    cfg = parse_config(
        "flows:\n  r: {function: functions/code_review, integrations: [github, llm]}\n", root
    )
    assert cfg.flows["r"].function == mine.resolve()
    assert cfg.integration_dir("github") == root / "integrations" / "github"
    assert cfg.integration_dir("llm") == builtin.folder("integrations") / "llm"
