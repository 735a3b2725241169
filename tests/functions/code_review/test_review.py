"""The code-review flow end to end: signed webhooks into the service, a
worker running the Wasm function over the fake GitHub (backed by a real git
repository) and an OpenAI-compatible model mocked with respx."""

from __future__ import annotations

import json
import re

import pytest
import respx
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from flows.cli import main
from flows.db.migrate import upgrade
from flows.db.models import MemoryItem, Run
from flows.project.config import load_config
from flows.server.http import create_app
from flows.server.service import Service
from tests.conftest import TOKEN, make_project
from tests.fakes.git import GitRepo
from tests.fakes.github import FakeGitHub
from tests.fakes.model import Rule, ScriptedModel
from tests.functions.code_review.fixtures import (
    API_BREAKING,
    API_HEAD,
    CODE_REVIEW,
    HANDLERS,
    SCHEMA_BREAKING,
    SECRET,
    Deliver,
    brief,
    comment_payload,
    inline,
    make_git,
    ours,
    pr_payload,
    review_comment_payload,
)

pytestmark = pytest.mark.slow
BASE = "https://llm.test/v1"
KEY = "sk-review-" + "k" * 24
LLM = f"""
llm:
  backend: openai
  openai: {{base_url: "{BASE}", api_key: "{KEY}", model: m, max_retries: 1, timeout_s: 5}}
"""


@pytest.fixture(scope="module")
def fake():
    fake = FakeGitHub(token=TOKEN).start()
    yield fake
    fake.stop()
    assert fake.undocumented() == []


@pytest.fixture
def model():
    m = ScriptedModel(rules=[Rule(r"\beval\(")])
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE}/chat/completions").mock(side_effect=m)
        yield m


def project(tmp_path, fake: FakeGitHub):
    path = make_project(tmp_path / "proj", CODE_REVIEW, LLM)
    cfg = load_config(path)
    cfg.github.api_url = fake.url
    cfg.github.token = SecretStr(TOKEN)
    cfg.github.webhook_secret = SecretStr(SECRET)
    cfg.github.request_interval_s = cfg.github.write_interval_s = 0
    cfg.database.url = f"sqlite:///{tmp_path / 'flows.db'}"
    cfg.queue.backoff_base_s = 0
    return path, cfg


@pytest.fixture
def service(tmp_path, fake, db_url):
    path, cfg = project(tmp_path, fake)
    cfg.database.url = db_url
    svc = Service(cfg)
    upgrade(svc.engine)
    with TestClient(create_app(svc)) as client:
        yield svc, Deliver(client, svc), path


_numbers = iter(range(100, 1000))


def last_report(svc) -> dict:
    with svc.queue.session() as s:
        run = s.scalars(select(Run).order_by(Run.started_at.desc())).first()
        return json.loads(run.report)


def opened(tmp_path, fake: FakeGitHub, deliver: Deliver):
    """A new pull request over a new git repository, delivered and reviewed."""
    git = make_git(tmp_path / "repo")
    n = next(_numbers)
    payload = pr_payload(n, git, fake)
    deliver("pull_request", payload)
    return git, n, payload, fake.repos["codertocat/hello-world"]


def user_texts(model: ScriptedModel) -> list[str]:
    return [r["messages"][-1]["content"] for r in model.requests]


def test_a_pr_gets_one_comment_with_every_section_then_pushes_update_it(
    service, fake, model, tmp_path
):
    svc, deliver, _ = service
    git, n, payload, repo = opened(tmp_path, fake, deliver)

    report = last_report(svc)
    assert report["status"] == "ok", report["error"]
    result = report["result"]
    assert brief(result) == API_BREAKING + SCHEMA_BREAKING
    assert result["not_reviewed"] == {"poetry.lock": "ignored by the settings (`*.lock`)"}
    (c,) = ours(repo, n)
    body = c["body"]
    heads = re.findall(r"^### (.+)$", body, re.M)
    assert heads == ["Summary", "Walkthrough", "Risks", "Breaking changes", "Not reviewed"]
    assert "Refactors the API of the package." in body
    for path in ("src/shop/api.py", "src/shop/handlers.py", "tests/test_api.py"):
        assert f"| `{path}` | Changes {path}. |" in body
    rows = [
        r
        for r in body.split("### Breaking changes")[1].split("###")[0].splitlines()
        if r.startswith("| `")
    ]
    assert [r.split(" | ")[0:2] for r in rows] == [
        ["| `shop.api.cancel_order`", "Public object was removed"],  # (no line: it is gone)
        ["| `shop.api.get_order`", "Parameter was removed: include_items"],
        ["| `shop.api.list_orders`", "Parameter was added as required: currency"],
        ["| `coupons`", "table coupons is dropped"],
    ]
    assert "callers and importers of `shop.api.cancel_order`" in body
    risks = body.split("### Risks")[1].split("###")[0]
    # the check found it, so the model's finding on the same lines is merged into it
    assert "🛑 **critical**" in risks and "`src/shop/handlers.py` L6" in risks
    assert risks.count("src/shop/handlers.py` L6") == 1 and "found by: check eval-exec" in risks
    base, head = git.sha("master"), git.sha("feature")
    assert f"Reviewed `{base[:7]}..{head[:7]}` (1 commit)" in body
    assert '<!-- flows:code-review:state {"head": "' + head in body
    (note,) = inline(repo, n)  # the high risk, inline on its line
    assert note["path"] == "src/shop/handlers.py" and note["line"] == 6
    # the diff for the model has head line numbers; nothing ignored reached it
    first = user_texts(model)
    assert "\n6 +    return eval(expr)" in first[0]
    assert "poetry.lock" not in first[0]

    # a second push: only the new commit is analysed; the same comment is edited
    model.requests.clear()
    git.commit(
        "Add a util",
        {
            "src/shop/util.py": "def parse(text):\n    return eval(text)\n",
            "src/shop/handlers.py": '"""HTTP handlers."""\nimport json\n'
            + HANDLERS.split("\n", 1)[1],
        },
    )
    sync = {**payload, "action": "synchronize"}
    deliver("pull_request", sync)
    report = last_report(svc)
    assert report["status"] == "ok", report["error"]
    assert report["result"]["mode"] == "incremental"
    assert report["result"]["range"] == [head, git.sha("feature")]
    assert report["result"]["files_reviewed"] == ["src/shop/handlers.py", "src/shop/util.py"]
    sent = "\n".join(user_texts(model))
    assert "src/shop/util.py" in sent and "src/shop/api.py" not in sent
    (c2,) = ours(repo, n)
    assert c2["id"] == c["id"]
    assert brief(report["result"]) == API_BREAKING + SCHEMA_BREAKING  # still listed
    assert "`src/shop/handlers.py` L7" in c2["body"]  # the kept finding moved down a line
    assert "`src/shop/util.py` L2" in c2["body"]
    assert "last push reviewed incrementally" in c2["body"]
    notes = inline(repo, n)
    assert [(x["path"], x["line"]) for x in notes] == [
        ("src/shop/handlers.py", 6),
        ("src/shop/util.py", 2),
    ]

    # a maintainer dismisses the util finding; the next review does not raise it
    deliver(
        "pull_request_review_comment",
        review_comment_payload(payload, n, "/dismiss we trust this input", notes[1]["id"]),
    )
    git.commit("Docs", {"docs/guide.md": "# Guide\n\nMore.\n"})
    deliver("pull_request", sync)
    body = ours(repo, n)[0]["body"]
    assert "src/shop/util.py` L2" not in body and "`src/shop/handlers.py` L7" in body
    assert len(inline(repo, n)) == 2  # nothing posted twice

    # /review from a maintainer: a full review, same comment, no duplicate inline notes
    model.requests.clear()
    deliver("issue_comment", comment_payload(n, "/review"))
    result = last_report(svc)["result"]
    assert result["command"] == "review" and result["mode"] == "full"
    assert "src/shop/api.py" in "\n".join(user_texts(model))
    assert len(ours(repo, n)) == 1 and len(inline(repo, n)) == 2

    # the dismissal holds across PRs of the repository: a new PR with that code
    n2 = next(_numbers)
    deliver("pull_request", pr_payload(n2, git, fake))
    body = ours(repo, n2)[0]["body"]
    assert "`src/shop/util.py` L2" not in body and "`src/shop/handlers.py` L7" in body

    # a 👎 on an inline finding dismisses it too (read at the next review)
    fake.react(repo, n2, inline(repo, n2)[0]["id"], "-1")
    deliver("issue_comment", comment_payload(n2, "/review"))
    risks = ours(repo, n2)[0]["body"].split("### Risks")[1].split("###")[0]
    assert "`src/shop/handlers.py` L7" not in risks  # dismissed
    assert risks.count("found by:") == 1 and "found by: check unused-import" in risks  # `json`


def test_commands_for_maintainers_and_polite_refusals(service, fake, model, tmp_path):
    svc, deliver, _ = service
    git, n, payload, repo = opened(tmp_path, fake, deliver)
    assert len(ours(repo, n)) == 1

    before = len(repo.comments[n])
    deliver("issue_comment", comment_payload(n, "/review", assoc="NONE", login="stranger"))
    refusal = repo.comments[n][-1]["body"]
    assert refusal.startswith("Sorry stranger, only people with write access")
    deliver("issue_comment", comment_payload(n, "/review", login="dependabot[bot]", kind="Bot"))
    deliver("issue_comment", comment_payload(n, "Looks good to me"))
    assert len(repo.comments[n]) == before + 1  # bots and chatter get no answer
    assert last_report(svc)["result"]["skipped"].startswith("not a command")

    # /remember: the host stores it, the flow says thanks, later prompts carry it
    deliver("issue_comment", comment_payload(n, "/remember we use snake_case for SQL columns"))
    assert any(r["content"] == "+1" for r in repo.reactions)
    model.requests.clear()
    deliver("issue_comment", comment_payload(n, "/summary"))
    result = last_report(svc)["result"]
    assert result["command"] == "summary" and result["findings"]  # findings kept
    system = model.requests[0]["messages"][0]["content"]
    assert "- we use snake_case for SQL columns" in system
    assert "risks" not in json.dumps(model.requests[0]["response_format"])

    deliver("issue_comment", comment_payload(n, "/ask is the eval in handlers.py safe?"))
    answer = repo.comments[n][-1]["body"]
    assert answer.startswith("> is the eval in handlers.py safe?\n\nAbout that:")
    asked = user_texts(model)[-1]
    assert "src/shop/handlers.py" in asked and "is the eval in handlers.py safe?" in asked

    deliver("issue_comment", comment_payload(n, "/pause"))
    assert "paused" in repo.comments[n][-1]["body"]
    git.commit("more", {"src/shop/more.py": "x = 1\n"})
    model.requests.clear()
    deliver("pull_request", {**payload, "action": "synchronize"})
    assert last_report(svc)["result"]["skipped"].startswith("automatic reviews are paused")
    assert model.requests == []
    receipt = [r for r in repo.check_runs.values() if r["head_sha"] == git.sha("feature")][-1]
    assert receipt["conclusion"] == "neutral" and receipt["output"]["title"] == "Paused"
    deliver("issue_comment", comment_payload(n, "/resume"))
    deliver("pull_request", {**payload, "action": "synchronize"})
    assert last_report(svc)["result"]["mode"] == "incremental"
    deliver("issue_comment", comment_payload(n, "/help"))
    assert "`/ask <question>`" in repo.comments[n][-1]["body"]


def test_dry_run_shows_the_same_comment_without_writing(service, fake, model, tmp_path):
    svc, deliver, path = service
    git = make_git(tmp_path / "repo")
    n = next(_numbers)
    payload = pr_payload(n, git, fake)
    repo = fake.repos["codertocat/hello-world"]
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"event": "pull_request", "payload": payload}))
    writes = len(fake.writes())
    env = {"GITHUB_TOKEN": TOKEN}
    config = path.read_text().replace(
        "flows:\n",
        f"""
database: {{url: "{svc.cfg.database.url}"}}
github: {{api_url: "{fake.url}", token: "${{GITHUB_TOKEN}}", request_interval_s: 0,
          write_interval_s: 0}}
flows:
""",
        1,
    )
    cli_config = path.with_name("cli.yaml")
    cli_config.write_text(config)
    out = CliRunner().invoke(
        main,
        ["run", "code-review", "--event", str(event), "--config", str(cli_config), "--dry-run"],
        env=env,
    )
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert len(fake.writes()) == writes and not repo.comments.get(n)
    bodies = [
        w["body"]["body"]
        for w in report["writes"]
        if w.get("path", "").endswith(f"/issues/{n}/comments")
    ]
    dry = bodies[-1]
    assert KEY not in out.output and TOKEN not in out.output
    with svc.queue.session() as s:
        assert s.scalars(select(MemoryItem)).all() == []  # no memory written either

    deliver("pull_request", payload)
    real = ours(repo, n)[0]["body"]

    def same(text):
        return re.sub(r"run `\w+`", "run", text.replace("<!-- flows:code-review -->\n", ""))

    assert same(dry) == same(real)


def test_a_failing_model_still_posts_what_is_certain(service, fake, model, tmp_path):
    svc, deliver, _ = service
    git = make_git(tmp_path / "repo")
    n = next(_numbers)
    payload = pr_payload(n, git, fake)
    repo = fake.repos["codertocat/hello-world"]
    model.fail_with = 500
    deliver("pull_request", payload)
    report = last_report(svc)
    assert report["status"] == "ok", report["error"]
    result = report["result"]
    assert "500" in result["model_failed"] or "overloaded" in result["model_failed"]
    (c,) = ours(repo, n)
    body = c["body"]
    assert "The model's part of this review failed" in body and "`/review`" in body
    assert "Reviewing" not in body  # the placeholder does not stay
    # what is certain is there: breaking changes, the check's finding, every file walked through
    assert brief(result) == API_BREAKING + SCHEMA_BREAKING
    assert "found by: check eval-exec" in body
    for path in ("src/shop/api.py", "src/shop/handlers.py", "tests/test_api.py"):
        assert f"| `{path}` |" in body
    assert "| `src/shop/handlers.py` | Added (6 lines). |" in body
    # (the fake GitHub lives for the module: other tests may have the same commit)
    run = [r for r in repo.check_runs.values() if r["head_sha"] == git.sha("feature")][-1]
    assert run["name"] == "flows review" and run["conclusion"] == "neutral"
    assert "model's part failed" in run["output"]["title"]
    # the same event again is not "already reviewed": the model's part is still owed
    deliver("pull_request", {**payload, "action": "reopened"})
    assert last_report(svc)["result"].get("skipped") is None
    model.fail_with = None
    deliver("issue_comment", comment_payload(n, "/review"))
    (c,) = ours(repo, n)
    assert "failed" not in c["body"] and "Refactors the API of the package." in c["body"]
    conclusions = [r["conclusion"] for r in repo.check_runs.values()]
    assert conclusions[-1] == "success"  # poetry.lock is ignored by choice, not a gap


def test_model_breaking_rows_are_kept_only_when_grounded(service, fake, model, tmp_path):
    svc, deliver, _ = service
    api = "src/shop/api.py"
    model.breaking = [
        # the prompt echoed back: names nothing the diff removes or changes
        {"path": api, "line": 3, "what": "Removed or changed public functions, classes, HTTP "
         "endpoints, CLI flags, and so.", "change": "changed", "who": "users"},
        # about what the API diff already found: merged into that row
        {"path": api, "line": 3, "what": "`cancel_order`", "change": "gone", "who": "callers"},
        # a name that is nowhere in the diff
        {"path": api, "line": 3, "what": "refund_order", "change": "gone", "who": "callers"},
        # grounded in a removed line and not found otherwise: kept, marked as the model's
        {"path": api, "line": 3, "what": "include_items", "change": "The include_items flag "
         "of get_order is gone.", "who": "callers that pass it"},
    ]  # fmt: skip
    _git, n, _payload, repo = opened(tmp_path, fake, deliver)
    result = last_report(svc)["result"]
    model_rows = [b for b in result["breaking"] if b["found_by"] == "model"]
    assert [(b["symbol"], b["path"]) for b in model_rows] == [("include_items", api)]
    assert brief(result)[:4] == API_BREAKING + SCHEMA_BREAKING
    assert result["model_findings_dropped"] == 2
    body = ours(repo, n)[0]["body"]
    assert "so." not in body.split("### Breaking changes")[1] and "refund_order" not in body


def test_awkward_prs_are_disclosed_not_crashed(service, fake, model, tmp_path):
    svc, deliver, _ = service
    repo = fake.repos.get("codertocat/hello-world")
    git = GitRepo(tmp_path / "repo", "master")
    git.commit(
        "init",
        {
            "src/old_name.py": "def f():\n    pass\n",
            "src/gone.py": "def g():\n    pass\n",
            "src/ok.py": "def h(a):\n    return a\n",
        },
    )
    git.checkout("awkward", create=True)
    git.rename("src/old_name.py", "src/new_name.py")
    big = "".join(f"ROW_{i} = {i}\n" for i in range(50_000))
    git.commit(
        "awkward",
        {
            "assets/blob.bin": bytes(range(256)) * 8,
            "src/generated_table.py": big,
            "src/gone.py": None,
            "src/ok.py": "def h(a:\n    return a\n",
        },
    )
    n = next(_numbers)
    deliver("pull_request", pr_payload(n, git, fake, head="awkward"))
    report = last_report(svc)
    assert report["status"] == "ok", report["error"]
    result = report["result"]
    assert result["not_reviewed"] == {
        "assets/blob.bin": "binary or empty file",
        "src/generated_table.py": "its diff (50000 changed lines) is too large for GitHub to send",
        "src/ok.py": "its API was not compared: not valid Python 3.14 ('(' was never closed, "
        "line 1); if it is newer syntax, a newer Python may accept it",
    }
    assert result["check_run"] == "neutral"  # a diff GitHub did not send is a gap
    assert sorted(brief(result)) == [
        "src/gone.py:gone:module-removed",
        "src/new_name.py:old_name:module-moved",
    ]
    repo = fake.repos["codertocat/hello-world"]
    body = ours(repo, n)[0]["body"]
    assert "| `src/new_name.py` | Renamed from `src/old_name.py`, unchanged. |" in body
    assert "- `assets/blob.bin`: binary or empty file" in body

    # an empty diff: said plainly, no model call
    git.checkout("empty", create=True, start="master")
    git.commit("nothing", {})
    n = next(_numbers)
    model.requests.clear()
    deliver("pull_request", pr_payload(n, git, fake, head="empty"))
    assert "This pull request changes no files." in ours(repo, n)[0]["body"]
    assert model.requests == []

    # closed while its job waited in the queue: skipped, nothing posted
    n = next(_numbers)
    payload = pr_payload(n, git, fake, head="awkward")
    deliver("pull_request", payload, run=False)
    repo.pulls[n]["state"] = "closed"
    assert deliver.worker.process_one()
    assert last_report(svc)["result"] == {"skipped": f"#{n} is closed"}
    assert ours(repo, n) == []


def test_force_push_means_a_full_review_and_model_text_is_made_safe(service, fake, model, tmp_path):
    svc, deliver, _ = service
    git, n, payload, repo = opened(tmp_path, fake, deliver)
    first = ours(repo, n)[0]
    # the branch is rewritten: the reviewed commit is no longer an ancestor of the head
    git.git("reset", "-q", "--hard", "master")
    git.commit("Rewritten", {"src/shop/api.py": API_HEAD, "src/shop/new.py": "X = 1\n"})
    model.summary = (
        "Adds <img src=x onerror=alert(1)> for @octocat, see [docs](https://evil.test/a) and "
        "https://docs.example.com/orders \x1b[31m"
    )
    deliver("pull_request", {**payload, "action": "synchronize"})
    result = last_report(svc)["result"]
    assert result["mode"] == "auto" and result["range"] == ["", git.sha("feature")]
    (c,) = ours(repo, n)
    assert c["id"] == first["id"]
    assert "no longer part of this branch (force-push or rebase)" in c["body"]
    assert "src/shop/handlers.py" not in c["body"]  # gone from the PR, gone from the review
    summary = c["body"].split("### Summary")[1].split("###")[0]
    assert "&lt;img src=x onerror=alert(1)>" in summary and "<img" not in summary
    assert "@\u200boctocat" in summary and "\x1b" not in summary
    assert "docs (`https://evil.test/a`)" in summary  # a link the diff did not contain
    assert "https://docs.example.com/orders" in summary  # the PR description has this one


def test_a_large_pr_is_packed_under_the_budget_and_says_what_it_left_out(
    service, fake, model, tmp_path
):
    svc, deliver, _ = service
    svc.cfg.llm.openai.context_window = 3000  # a small model: many chunks
    git = GitRepo(tmp_path / "repo", "master")
    git.commit("init", {"README.md": "x\n"})
    git.checkout("big", create=True)
    files = {f"src/m{i:02}.py": "".join(f"V_{j} = {j}\n" for j in range(60)) for i in range(60)}
    files["tests/test_m.py"] = "def test():\n    assert True\n"
    git.commit("big", files)
    n = next(_numbers)
    deliver("pull_request", pr_payload(n, git, fake, head="big"))
    report = last_report(svc)
    assert report["status"] == "ok", report["error"]
    result = report["result"]
    left = {p for p, why in result["not_reviewed"].items() if "over this review's budget" in why}
    # sources come first, so what is left is the last of them (the small test file
    # may still fit beside the last chunk)
    sources = {p for p in left if p.startswith("src/")}
    first_left = min(int(p[5:7]) for p in sources)
    assert sources == {f"src/m{i:02}.py" for i in range(first_left, 60)}
    assert result["model_calls"] == 8 + 1  # the budget's chunks, and the overview beside them
    assert len(result["files_reviewed"]) + len(left) + sum(
        "partly" in w for w in result["not_reviewed"].values()
    ) == len(files)
    overview = [r for r in model.requests if "changed files" in r["messages"][-1]["content"]]
    assert len(overview) == 1
    assert "src/m59.py (added, +60 -0)" in overview[0]["messages"][-1]["content"]
    body = ours(fake.repos["codertocat/hello-world"], n)[0]["body"]
    assert "over this review's budget of 8 model calls" in body
