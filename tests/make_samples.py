"""Record each template's sample events: `python -m tests.make_samples`.

Each template runs for real (its sandbox, the integrations, the host) against
the fake GitHub (real git repositories behind pull requests) and a scripted
model; everything it reads is written, with the event, to its samples/
folder, so `flows run --dry-run` and the template's tests replay it offline.
Run it again after a template changes what it reads.
"""

from __future__ import annotations

import copy
import json
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from flows.capabilities.llm.backend import Backend, Completion, estimate_tokens
from flows.capabilities.replay import Recording, save_recorded_event
from flows.project.events import Event
from flows.runtime import Runtime
from flows.testing import FlowTest
from tests.fakes.git import GitRepo
from tests.fakes.github import FakeGitHub, load_fixture
from tests.fakes.model import Rule, ScriptedModel
from tests.functions.code_review.fixtures import comment_payload, make_git, pr_payload

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "ghs_" + uuid.uuid4().hex
Answer = Callable[[list[dict[str, str]], dict[str, Any] | None], str]


class CannedModel(Backend):
    """A model backend that answers with `answer(messages, schema)`."""

    name = "scripted"

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def complete(self, messages, max_tokens, temperature, schema, deadline) -> Completion:
        text = self.answer(messages, schema)
        prompt = sum(estimate_tokens(m["content"]) for m in messages)
        return Completion(text, "scripted-model", prompt, estimate_tokens(text), 1.0, "stop")

    def context_window(self) -> int:
        return 128000


def record(
    folder: str, name: str, event: Event, fake: FakeGitHub, answer: Answer, settings=None
) -> None:
    """Run the template in functions/FOLDER on `event`; write samples/NAME.json."""
    test = FlowTest(ROOT / "functions" / folder, settings=settings)
    cfg = test.config
    cfg.github.api_url = fake.url
    cfg.github.token = SecretStr(TOKEN)
    cfg.github.request_interval_s = cfg.github.write_interval_s = 0
    runtime = Runtime(cfg)
    runtime.capabilities.llm = CannedModel(answer)
    recording = Recording()
    runtime.capabilities.record(recording)
    report = runtime.run(test.name, event, dry_run=True)
    if not report.ok:
        raise SystemExit(f"{folder}/{name}: {report.error}")
    out = ROOT / "functions" / folder / "samples" / f"{name}.json"
    save_recorded_event(out, event, recording)
    print(f"{out.relative_to(ROOT)}: {len(recording.github)} reads, {len(recording.llm)} answers")


# -- pr-summary ------------------------------------------------------------------
def pr_summary(fake: FakeGitHub, tmp: Path) -> None:
    git = GitRepo(tmp / "summary", default_branch="master")
    git.commit("initial", {"app/cart.py": "def total(items):\n    return sum(items)\n"})
    git.checkout("feature", create=True)
    git.commit(
        "Apply discount codes at checkout",
        {
            "app/cart.py": "def total(items, discount=0):\n"
            "    gross = sum(items)\n    return gross - gross * discount / 100\n",
            "app/codes.py": 'CODES = {"WELCOME10": 10, "VIP": 25}\n',
        },
    )
    git.commit(
        "Test discounts",
        {"tests/test_cart.py": "from app.cart import total\n\n\ndef test_discount():\n"
         "    assert total([100], 10) == 90\n"},
    )  # fmt: skip
    payload = pr_payload(2, git, fake)
    payload["pull_request"].update(
        title="Discount codes at checkout", body="Customers can enter a discount code."
    )

    def answer(messages, schema):
        if schema is None:
            data = messages[-1]["content"]
            if "codes.py" in data:
                return (
                    "Adds a `discount` percentage to `total()` and a table of discount codes "
                    "(WELCOME10, VIP); the discount is not checked against 0-100."
                )
            return "Adds a unit test for a 10% discount on `total()`."
        return json.dumps(
            {
                "overview": "Lets customers pay less with a discount code: `total()` takes a "
                "percentage, and two codes are defined. One test covers the happy path.",
                "key_changes": [
                    "`total(items, discount=0)` subtracts a percentage discount",
                    "Discount codes WELCOME10 (10%) and VIP (25%) in `app/codes.py`",
                    "A test for a 10% discount",
                ],
                "potential_issues": [
                    "A discount over 100 or below 0 is not rejected: totals can go negative",
                    "Codes are hard-coded in source; changing them needs a deploy",
                ],
            }
        )

    record("pr_summary", "pull_request.opened", Event("pull_request", payload), fake, answer)
    comment = comment_payload(2, "flows summarize please", assoc="OWNER", login="Codertocat")
    record("pr_summary", "issue_comment.trigger", Event("issue_comment", comment), fake, answer)


# -- issue-triage ----------------------------------------------------------------
DEFAULT_LABELS = [
    ("bug", "Something isn't working", "d73a4a"),
    ("documentation", "Improvements or additions to documentation", "0075ca"),
    ("duplicate", "This issue or pull request already exists", "cfd3d7"),
    ("enhancement", "New feature or request", "a2eeef"),
    ("good first issue", "Good for newcomers", "7057ff"),
    ("help wanted", "Extra attention is needed", "008672"),
    ("invalid", "This doesn't seem right", "e4e669"),
    ("question", "Further information is requested", "d876e3"),
    ("wontfix", "This will not be worked on", "ffffff"),
]


def issue_payload() -> dict:
    base = load_fixture("issue_comment.created.json")
    payload = {k: copy.deepcopy(base[k]) for k in ("issue", "repository", "sender")}
    payload["action"] = "opened"
    payload["installation"] = {
        "id": 2311213,
        "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMjMxMTIxMw==",
    }
    payload["issue"].update(
        title="Spelling error in the README file",
        body="The README says 'Hello Wrold' in the first line. It should be 'Hello World'.",
        labels=[],
        comments=0,
    )
    return payload


def issue_triage(fake: FakeGitHub, tmp: Path) -> None:
    payload = issue_payload()
    repo = fake.add_repo_from_event(payload)
    repo.repo_labels = [
        {"id": i + 1, "name": n, "description": d, "color": c, "default": True}
        for i, (n, d, c) in enumerate(DEFAULT_LABELS)
    ]

    def answer(messages, schema):
        return json.dumps(
            {
                "kind": "documentation",
                "labels": ["documentation", "good first issue"],
                "response": "Thanks for spotting this! The first line of the README has a typo "
                "('Wrold'). It is a one-word fix, a good first contribution if you would like "
                "to open a pull request.",
                "missing": [],
            }
        )

    record("issue_triage", "issues.opened", Event("issues", payload), fake, answer)
    again = copy.deepcopy(load_fixture("issue_comment.created.json"))
    again["comment"].update(body="/triage", author_association="OWNER")
    record("issue_triage", "issue_comment.triage", Event("issue_comment", again), fake, answer)


# -- release-notes ---------------------------------------------------------------
def release_notes(fake: FakeGitHub, tmp: Path) -> None:
    payload = copy.deepcopy(load_fixture("issue_comment.created.json"))
    payload["comment"].update(body="/release-notes v1.1.0", author_association="OWNER")
    repo = fake.add_repo_from_event(payload)
    repo.releases = [
        {"id": 1, "tag_name": "v1.0.0", "name": "v1.0.0", "body": "First release.",
         "draft": False, "prerelease": False, "created_at": "2026-10-01T09:00:00Z",
         "published_at": "2026-10-01T09:00:00Z", "target_commitish": "master",
         "html_url": "https://github.com/Codertocat/Hello-World/releases/tag/v1.0.0",
         "author": {"login": "Codertocat", "type": "User"}},
    ]  # fmt: skip
    template = load_fixture("pull_request.opened.json")["pull_request"]
    merged = [
        (10, "Add CSV export of orders", ["enhancement"], "2026-10-20T10:00:00Z", "alice"),
        (11, "Fix crash when the cart is empty", ["bug"], "2026-10-22T12:00:00Z", "bob"),
        (12, "Remove the deprecated /v1/orders endpoint", ["breaking"], "2026-11-02T08:00:00Z",
         "alice"),
        (13, "Document the export format", ["documentation"], "2026-11-03T15:00:00Z", "carol"),
        (14, "Bump requests from 2.31 to 2.32", ["dependencies"], "2026-11-04T07:00:00Z",
         "dependabot[bot]"),
        (15, "Tidy CI config", ["skip-changelog"], "2026-11-05T07:00:00Z", "bob"),
        (8, "Initial order API", ["enhancement"], "2026-09-20T07:00:00Z", "alice"),
    ]  # fmt: skip
    for number, title, labels, when, who in merged:
        pr = copy.deepcopy(template)
        pr.update(number=number, title=title, state="closed", merged_at=when, updated_at=when,
                  closed_at=when, body=f"{title}.", labels=[{"name": x} for x in labels],
                  html_url=f"https://github.com/Codertocat/Hello-World/pull/{number}",
                  user={"login": who, "type": "Bot" if "[bot]" in who else "User"})  # fmt: skip
        repo.pulls[number] = pr
    unmerged = copy.deepcopy(template)
    unmerged.update(number=16, title="Experiment", state="closed", merged_at=None,
                    updated_at="2026-11-06T07:00:00Z")  # fmt: skip
    repo.pulls[16] = unmerged

    def answer(messages, schema):
        return json.dumps(
            {
                "highlights": "Orders can now be exported as CSV, and an empty cart no longer "
                "crashes checkout. The long-deprecated /v1/orders endpoint is gone: move to "
                "/v2/orders before upgrading."
            }
        )

    event = Event("issue_comment", payload)
    record("release_notes", "issue_comment.release-notes", event, fake, answer)


# -- code-review -----------------------------------------------------------------
def code_review(fake: FakeGitHub, tmp: Path) -> None:
    git = make_git(tmp / "review")
    payload = pr_payload(7, git, fake)
    model = ScriptedModel(rules=[Rule(r"eval\(")])

    def answer(messages, schema):
        body: dict[str, Any] = {"messages": messages}
        if schema is not None:
            body["response_format"] = {"json_schema": {"schema": schema}}
        return model.answer(body)

    record("code_review", "pull_request.opened", Event("pull_request", payload), fake, answer)


def main() -> None:
    fake = FakeGitHub(token=TOKEN).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for make in (pr_summary, issue_triage, release_notes, code_review):
                make(fake, Path(tmp))
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
