"""What the code-review tests share: a real git repository with a pull request
that breaks a Python API and drops a table, the fake GitHub over it, signed
deliveries into the service, and the scripted model."""

from __future__ import annotations

import copy
import json
import os
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from flows.server.ingest import sign
from flows.server.worker import Worker
from tests.conftest import make_project
from tests.fakes.git import GitRepo
from tests.fakes.github import FakeGitHub, FakeRepo, load_fixture
from tests.server.test_service import SECRET as APP_SECRET
from tests.server.test_service import SETTINGS, Server, wait_for

SECRET = "whsec-" + uuid.uuid4().hex
# every test pull request's title and description
PR_TITLE = "Refactor the order API"
PR_BODY = "Simplifies orders. See https://docs.example.com/orders."
CODE_REVIEW = """
  code-review:
    function: functions/code_review
    integrations: [github, llm]
    memory: true
    on:
      pull_request: [opened, reopened, ready_for_review, synchronize]
      issue_comment: [created]
      pull_request_review_comment: [created]
    limits: {timeout_s: 120, memory_mb: 512}
    settings: {inline_comments: true, inline_min_severity: high}
"""

API_BASE = '''"""The shop's public API."""


def get_order(order_id: int, include_items: bool = False) -> dict:
    """One order."""
    return {"id": order_id}


def cancel_order(order_id: int, reason: str) -> None:
    """Cancel an order."""


def list_orders(customer: str, limit: int = 50) -> list:
    """A customer's orders."""
    return []


def _helper() -> None:
    pass
'''
API_HEAD = '''"""The shop's public API."""


def get_order(order_id: int) -> dict:
    """One order."""
    return {"id": order_id}


def list_orders(customer: str, limit: int = 50, *, currency: str) -> list:
    """A customer's orders."""
    return []
'''
HANDLERS = '''"""HTTP handlers."""


def calculate(request):
    expr = request.args["expr"]
    return eval(expr)
'''
BASE_FILES = {
    "src/shop/api.py": API_BASE,
    "src/shop/models.py": "class Order:\n    id: int\n",
    "migrations/0001_init.sql": "CREATE TABLE orders (id int);\nCREATE TABLE coupons (id int);\n",
    "docs/guide.md": "# Guide\n",
    "poetry.lock": "[[package]]\nname = 'a'\n",
    ".github/flows.yaml": "code_review:\n  language: English\n",
}
PR_FILES = {
    "src/shop/api.py": API_HEAD,
    "src/shop/handlers.py": HANDLERS,
    "migrations/0002_drop_coupons.sql": "DROP TABLE coupons;\n",
    "tests/test_api.py": "def test_get():\n    assert True\n",
    "poetry.lock": "[[package]]\nname = 'b'\n",
}
# what griffe finds, exactly (path:symbol:kind, as the run result lists them)
API_BREAKING = [
    "src/shop/api.py:shop.api.get_order:parameter-removed",
    "src/shop/api.py:shop.api.cancel_order:object-removed",
    "src/shop/api.py:shop.api.list_orders:parameter-added-required",
]
SCHEMA_BREAKING = ["migrations/0002_drop_coupons.sql:coupons:table-dropped"]


def app_server(tmp_path: Path, fake: FakeGitHub, key_path: Path, llm: str, flow: str = CODE_REVIEW):
    """`flows serve` as a real process, the GitHub App of the fake GitHub."""
    config = make_project(tmp_path / "proj", flow, SETTINGS + llm)
    env = {
        **os.environ,
        "FLOWS_DATABASE_URL": f"sqlite:///{tmp_path / 'flows.db'}",
        "GITHUB_API_URL": fake.url,
        "GITHUB_APP_ID": "4242",
        "GITHUB_APP_PRIVATE_KEY_PATH": str(key_path),
        "GITHUB_WEBHOOK_SECRET": APP_SECRET,
    }
    return Server(config, env).start()


def served_review(server: Server, fake: FakeGitHub, git: GitRepo, number: int,
                  timeout: float) -> dict:  # fmt: skip
    """A pull request from master to feature delivered to a running `flows
    serve`; its comment once it shows the review of the head commit."""
    payload = pr_payload(number, git, fake)
    repo = fake.repos["codertocat/hello-world"]
    head = git.sha("feature")
    assert server.deliver("pull_request", payload).status_code == 202

    def reviewed():
        found = ours(repo, number)
        return found if found and f'"head": "{head}"' in found[0]["body"] else None

    (c,) = wait_for(reviewed, timeout=timeout)
    return c


def brief(result: dict) -> list[str]:
    """A run result's breaking changes as path:symbol:kind."""
    return [f"{b['path']}:{b['symbol']}:{b['kind']}" for b in result["breaking"]]


def make_git(root: Path, branch: str = "master") -> GitRepo:
    git = GitRepo(root, default_branch=branch)
    git.commit("initial", BASE_FILES)
    git.checkout("feature", create=True)
    git.commit("Refactor the order API", PR_FILES)
    return git


def pr_payload(number: int, git: GitRepo, fake: FakeGitHub, head: str = "feature") -> dict:
    payload = copy.deepcopy(load_fixture("pull_request.opened.json"))
    payload["number"] = number
    pr = payload["pull_request"]
    pr.update(
        number=number,
        title=PR_TITLE,
        labels=[],
        draft=False,
        body=PR_BODY,
        html_url=f"https://github.com/Codertocat/Hello-World/pull/{number}",
    )
    fake.git_pull(payload, git, payload["repository"]["default_branch"], head)
    pr["head"]["sha"] = git.sha(head)
    return payload


def comment_payload(
    number: int, body: str, assoc: str = "MEMBER", login: str = "octo", kind: str = "User"
) -> dict:
    payload = copy.deepcopy(load_fixture("issue_comment.created.json"))
    payload["issue"]["number"] = number
    payload["issue"]["pull_request"] = {
        "url": "",
        "html_url": "",
        "diff_url": "",
        "patch_url": "",
        "merged_at": None,
    }
    payload["comment"].update(
        body=body,
        author_association=assoc,
        id=uuid.uuid4().int % 10**9,
        user={**payload["comment"]["user"], "login": login, "type": kind},
    )
    return payload


def review_comment_payload(
    pr: dict, number: int, body: str, reply_to: int, assoc: str = "MEMBER"
) -> dict:
    payload = {
        "action": "created",
        "pull_request": pr["pull_request"],
        "repository": pr["repository"],
        "installation": pr["installation"],
        "comment": {
            "id": uuid.uuid4().int % 10**9,
            "body": body,
            "in_reply_to_id": reply_to,
            "author_association": assoc,
            "path": "x",
            "user": {"login": "octo", "type": "User"},
        },
    }
    return payload


class Deliver:
    """Signed webhooks into the service's HTTP endpoint; a worker runs the jobs."""

    def __init__(self, client: TestClient, service: Any) -> None:
        self.client, self.service = client, service
        self.worker = Worker(service.runtime, service.queue, "test-worker")

    def __call__(self, event: str, payload: dict, run: bool = True) -> int:
        body = json.dumps(payload).encode()
        r = self.client.post(
            "/webhooks/github",
            content=body,
            headers={
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(SECRET, body),
                "Content-Type": "application/json",
            },
        )
        assert r.status_code == 202, r.text
        done = 0
        while run and self.worker.process_one():
            done += 1
        return done


def ours(repo: FakeRepo, number: int) -> list[dict]:
    return [c for c in repo.comments.get(number, []) if "<!-- flows:code-review -->" in c["body"]]


def inline(repo: FakeRepo, number: int) -> list[dict]:
    return [c for c in repo.review_comments.get(number, []) if "flows:finding" in c["body"]]
