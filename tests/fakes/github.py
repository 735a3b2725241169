"""A fake GitHub REST server on loopback, shaped like the real one.

Real HTTP (PyGithub talks to it exactly as to api.github.com): token auth
with 401 "Bad credentials", App JWTs checked against the App's public key,
installation tokens that expire, 404 "Not Found", Link pagination pointing at
/repositories/{id}/... like GitHub does, 422 validation errors (a review
comment on a line outside the diff included), and injected failures (status
codes with headers, or a delay) for the next requests to a path.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt

from tests.fakes.git import GitRepo

FIXTURES = Path(__file__).parents[1] / "fixtures" / "github"
DOCS = "https://docs.github.com/rest"
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def diff_lines(patch: str) -> dict[str, set[int]]:
    """Lines a review comment may target, per side (GitHub's own rule)."""
    right: set[int] = set()
    left: set[int] = set()
    old = new = 0
    for line in patch.splitlines():
        m = _HUNK.match(line)
        if m:
            old, new = int(m.group(1)), int(m.group(2))
        elif line.startswith("+"):
            right.add(new)
            new += 1
        elif line.startswith("-"):
            left.add(old)
            old += 1
        elif line.startswith(" "):
            right.add(new)
            left.add(old)
            old, new = old + 1, new + 1
    return {"RIGHT": right, "LEFT": left}


@dataclass
class FakeRepo:
    full_name: str
    id: int
    data: dict[str, Any]
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    repo_labels: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    contents: dict[str, dict[str, bytes]] = field(default_factory=dict)  # ref -> path -> bytes
    compares: dict[str, dict[str, Any]] = field(default_factory=dict)  # "base...head" -> body
    # a real git repository behind pulls, files, commits, contents and compare
    git: GitRepo | None = None
    pull_refs: dict[int, tuple[str, str]] = field(default_factory=dict)  # (base, head) branches


@dataclass
class FakeApp:
    id: int
    slug: str
    public_key: str
    suspended: set[int] = field(default_factory=set)
    installations: set[int] = field(default_factory=set)
    token_ttl_s: int = 3600


class FakeGitHub:
    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[dict[str, Any]] = []
        self.failures: dict[str, list[tuple[int, dict[str, str], str]]] = {}
        self.delays: dict[str, float] = {}
        self.held: list[str] = []  # paths of requests being delayed (or that were)
        self.app: FakeApp | None = None
        self.manifest_codes: dict[str, dict[str, Any]] = {}
        # OAuth (sign-in with GitHub): the App's client, who approves at
        # /login/oauth/authorize (None: the user declines), codes handed out
        self.oauth_client: tuple[str, str] | None = None  # (client_id, client_secret)
        self.oauth_user: str | None = None
        self._oauth_codes: dict[str, tuple[str, str]] = {}  # code -> (login, client_id)
        # what a user token sees: the App's installations it can reach, org roles
        self.user_installations: dict[str, list[dict[str, Any]]] = {}  # login -> installations
        self.org_roles: dict[tuple[str, str], str] = {}  # (org, login) -> "admin" | "member"
        # token -> (login, type): who a write appears to be from
        self.identities: dict[str, tuple[str, str]] = {}
        if token:
            self.identities[token] = ("flows-test-user", "User")
        self.minted: list[str] = []
        self._token_expiry: dict[str, float] = {}
        self._comment_index: dict[int, tuple[FakeRepo, int]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.handle_error = lambda *_: None  # a client that went away mid-answer
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._next_id = 1000

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- test setup ----------------------------------------------------------

    def add_repo_from_event(self, payload: dict[str, Any]) -> FakeRepo:
        """Create the event's repository, and its pull request if it has one."""
        repo_data = payload["repository"]
        repo = self.repos.setdefault(
            repo_data["full_name"].lower(),
            FakeRepo(repo_data["full_name"], repo_data["id"], repo_data),
        )
        pr = payload.get("pull_request")
        if pr:
            repo.pulls[pr["number"]] = pr
            repo.files.setdefault(pr["number"], [])
            repo.labels.setdefault(pr["number"], [lb["name"] for lb in pr.get("labels", [])])
        return repo

    def git_pull(
        self, payload: dict[str, Any], git: GitRepo, base: str, head: str, **fields: Any
    ) -> FakeRepo:
        """The event's pull request, backed by branches of a real git repository:
        its shas, files, commits and contents follow the branches as they move."""
        repo = self.add_repo_from_event(payload)
        number = payload["pull_request"]["number"]
        repo.git = git
        repo.pull_refs[number] = (base, head)
        repo.pulls[number].update(fields)
        self._refresh(repo, number)
        return repo

    def _refresh(self, repo: FakeRepo, number: int) -> None:
        if repo.git is None or number not in repo.pull_refs:
            return
        base, head = repo.pull_refs[number]
        pr = repo.pulls[number]
        pr["base"] = {**pr["base"], "ref": base, "sha": repo.git.sha(base)}
        pr["head"] = {**pr["head"], "ref": head, "sha": repo.git.sha(head)}
        mb = repo.git.merge_base(base, head) or pr["base"]["sha"]
        files = repo.git.files(mb, head)
        repo.files[number] = files
        repo.commits[number] = repo.git.commits(base, head)
        pr.update(additions=sum(f["additions"] for f in files),
                  deletions=sum(f["deletions"] for f in files), changed_files=len(files),
                  commits=len(repo.commits[number]))  # fmt: skip

    def react(self, repo: FakeRepo, number: int, comment_id: int, content: str) -> None:
        """Someone reacts to a review comment (GitHub sends no webhook for it)."""
        with self._lock:
            c = next(c for c in repo.review_comments[number] if c["id"] == comment_id)
            c["reactions"][content] += 1
            c["reactions"]["total_count"] += 1

    def set_app(self, app_id: int, slug: str, public_key_pem: str) -> FakeApp:
        self.app = FakeApp(app_id, slug, public_key_pem)
        return self.app

    def fail_next(
        self, path: str, *statuses: int, headers: dict[str, str] | None = None, message: str = ""
    ) -> None:
        """Answer the next requests to `path` with these statuses (headers, message)."""
        for s in statuses:
            self.failures.setdefault(path, []).append((s, headers or {}, message))

    def delay(self, path: str, seconds: float) -> None:
        """Hold every request to `path` this long before answering."""
        self.delays[path] = seconds

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] != "GET"]

    def add_comment(self, repo: FakeRepo, number: int, body: str, login: str, kind="User"):
        """A comment written by someone else (not through the API under test)."""
        with self._lock:
            return self._new_comment(repo, number, body, (login, kind))

    # -- HTTP --------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _go(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                    status, payload, headers = 400, {"message": "Problems parsing JSON"}, {}
                else:
                    if url.path in fake.delays:
                        fake.held.append(url.path)
                        time.sleep(fake.delays[url.path])
                    status, payload, headers = fake._route(
                        self.command, url.path, query, body, dict(self.headers)
                    )
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-RateLimit-Limit", "5000")
                if "X-RateLimit-Remaining" not in headers:
                    self.send_header("X-RateLimit-Remaining", "4999")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _go

        return Handler

    def _route(self, method: str, path: str, query: dict, body: Any, headers: dict):
        path = path.removeprefix("/api/v3")  # GitHub Enterprise Server's API root
        answer = self._answer(method, path, query, body, headers)
        with self._lock:
            self.requests[-1]["status"] = answer[0]
        return answer

    def undocumented(self) -> list[str]:
        """Answers this fake gave that GitHub's API description does not list
        for that operation (operations outside the description are not checked;
        injected failures are the test's own choice)."""
        spec = json.loads((FIXTURES / "rest-api-subset.json").read_text())
        ops = []
        for template, methods in spec["paths"].items():
            rx = re.sub(r"\{(path|basehead)\}", ".+", template)
            rx = re.sub(r"\{[^}]+\}", "[^/]+", rx)
            for m, op in methods.items():
                ops.append((m.upper(), re.compile(f"^{rx}$"), set(op.get("responses", {}))))
        problems = []
        for r in self.requests:
            if r.get("injected") or "status" not in r:
                continue
            for method, rx, statuses in ops:
                if method == r["method"] and rx.match(r["path"]):
                    # 401 "Bad credentials" can come from any endpoint
                    if str(r["status"]) not in statuses | {"401"}:
                        problems.append(f"{r['method']} {r['path']} -> {r['status']}")
                    break
        return problems

    def _answer(self, method: str, path: str, query: dict, body: Any, headers: dict):
        with self._lock:
            auth = headers.get("Authorization") or ""
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "body": body,
                    "authorization": auth,
                }
            )
            queued = self.failures.get(path)
            if queued:
                status, extra, message = queued.pop(0)
                self.requests[-1]["injected"] = True
                body = {"message": message or f"injected {status}", "documentation_url": DOCS}
                return status, body, extra
            if path.startswith("/login/oauth/"):
                return self._oauth(method, path, query, body)
            if path.startswith("/app-manifests/"):
                return self._manifest(method, path)
            if path.startswith("/app"):
                return self._app_route(method, path, auth)
            who = self._identity(auth)
            if who is None and (self.token is not None or self.app is not None):
                return 401, {"message": "Bad credentials", "documentation_url": DOCS}, {}
            if path == "/user" and method == "GET":
                if who is None or who[1] == "Bot":
                    return 403, {"message": "Resource not accessible by integration"}, {}
                return 200, {"login": who[0], "type": who[1], "id": 1}, {}
            if path.startswith("/user/") and (who is None or who[1] == "Bot"):
                return 403, {"message": "Resource not accessible by integration"}, {}
            if path == "/user/installations" and method == "GET":
                found = self.user_installations.get(who[0], [])
                return 200, {"total_count": len(found), "installations": found}, {}
            m = re.match(r"^/user/memberships/orgs/([^/]+)$", path)
            if m and method == "GET":
                role = self.org_roles.get((m.group(1).lower(), who[0].lower()))
                if role is None:
                    return 404, {"message": "Not Found", "documentation_url": DOCS}, {}
                return 200, {"state": "active", "role": role,
                             "organization": {"login": m.group(1)}}, {}  # fmt: skip
            return self._dispatch(method, path, query, body, who or ("anonymous", "User"))

    def _identity(self, auth: str) -> tuple[str, str] | None:
        token = auth.split(" ", 1)[1] if " " in auth else ""
        who = self.identities.get(token)
        if who is None:
            return None
        expiry = self._token_expiry.get(token)
        if expiry is not None and expiry < time.time():
            return None
        return who

    # -- GitHub App endpoints ---------------------------------------------------

    def _app_route(self, method: str, path: str, auth: str):
        app = self.app
        if app is None:
            return self._not_found()
        if not auth.startswith("Bearer "):
            return 401, {"message": "A JSON web token could not be decoded"}, {}
        try:
            claims = jwt.decode(auth[7:], app.public_key, algorithms=["RS256"])
        except jwt.PyJWTError as e:
            return 401, {"message": f"A JSON web token could not be decoded ({e})"}, {}
        if str(claims.get("iss")) != str(app.id):
            return 401, {"message": "'Issuer' claim ('iss') must be an Integer"}, {}
        if path == "/app" and method == "GET":
            return 200, {"id": app.id, "slug": app.slug, "name": app.slug}, {}
        m = re.match(r"^/app/installations/(\d+)/access_tokens$", path)
        if m and method == "POST":
            inst = int(m.group(1))
            if inst not in app.installations:
                return self._not_found()
            if inst in app.suspended:
                return 403, {"message": "This installation has been suspended"}, {}
            token = "ghs_" + secrets.token_hex(18)
            expires = time.time() + app.token_ttl_s
            self.identities[token] = (f"{app.slug}[bot]", "Bot")
            self._token_expiry[token] = expires
            self.minted.append(token)
            at = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 201, {"token": token, "expires_at": at, "permissions": {}}, {}
        return self._not_found()

    def _oauth(self, method: str, path: str, query: dict, body: Any):
        """GitHub's web flow: authorize redirects back with a code (as if the
        user approved), access_token trades it for a user token (JSON)."""
        client = self.oauth_client
        if path == "/login/oauth/authorize" and method == "GET":
            target = query.get("redirect_uri", "")
            if client is None or query.get("client_id") != client[0] or not target:
                return 404, {"message": "Not Found"}, {}
            if self.oauth_user is None:
                args = {"error": "access_denied", "state": query.get("state", "")}
            else:
                code = secrets.token_hex(10)
                self._oauth_codes[code] = (self.oauth_user, client[0])
                args = {"code": code, "state": query.get("state", "")}
            return 302, None, {"Location": f"{target}?{urllib.parse.urlencode(args)}"}
        if path == "/login/oauth/access_token" and method == "POST":
            body = body or {}
            hit = self._oauth_codes.pop(str(body.get("code")), None)
            ok = client is not None and (body.get("client_id"), body.get("client_secret")) == client
            if hit is None or not ok or hit[1] != client[0]:
                why = "The code passed is incorrect or expired."
                return 200, {"error": "bad_verification_code", "error_description": why}, {}
            token = "ghu_" + secrets.token_hex(18)
            self.identities[token] = (hit[0], "User")
            return 200, {"access_token": token, "token_type": "bearer", "scope": ""}, {}
        return self._not_found()

    def _manifest(self, method: str, path: str):
        m = re.match(r"^/app-manifests/([^/]+)/conversions$", path)
        if not m or method != "POST":
            return self._not_found()
        data = self.manifest_codes.pop(m.group(1), None)
        if data is None:
            return 404, {"message": "Not Found", "documentation_url": DOCS}, {}
        return 201, data, {}

    # -- repositories -------------------------------------------------------

    def _not_found(self):
        return 404, {"message": "Not Found", "documentation_url": DOCS}, {}

    def _invalid(self, *errors: str):
        return 422, {"message": "Validation Failed", "errors": list(errors),
                     "documentation_url": DOCS}, {}  # fmt: skip

    def _page(self, items: list, query: dict, repo: FakeRepo, rest: str):
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        base = f"https://api.github.com/repositories/{repo.id}/{rest}?per_page={per_page}"
        if page < last:
            links.append(f'<{base}&page={page + 1}>; rel="next"')
            links.append(f'<{base}&page={last}>; rel="last"')
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _new_comment(self, repo: FakeRepo, number: int, body: str, who: tuple[str, str]):
        self._next_id += 1
        c = {
            "id": self._next_id,
            "body": body,
            "user": {"login": who[0], "type": who[1]},
            "created_at": _now(),
            "updated_at": _now(),
            "html_url": f"https://github.com/{repo.full_name}/pull/{number}#issuecomment-{self._next_id}",
        }
        repo.comments.setdefault(number, []).append(c)
        self._comment_index[c["id"]] = (repo, number)
        return c

    def _dispatch(self, method: str, path: str, query: dict, body: Any, who: tuple[str, str]):
        m = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", path)
        if not m:
            return self._not_found()
        repo = self.repos.get(f"{m.group(1)}/{m.group(2)}".lower())
        if repo is None:
            return self._not_found()
        rest = urllib.parse.unquote(m.group(3) or "")
        if rest == "" and method == "GET":
            return 200, repo.data, {}
        for pattern, handler in (
            (r"^/pulls$", self._pulls),
            (r"^/labels$", self._repo_labels),
            (r"^/releases(/latest)?$", self._releases),
            (r"^/pulls/(\d+)$", self._pull),
            (r"^/pulls/(\d+)/files$", self._files),
            (r"^/pulls/(\d+)/commits$", self._commits),
            (r"^/pulls/(\d+)/reviews$", self._reviews),
            (r"^/pulls/(\d+)/comments/(\d+)/replies$", self._reply),
            (r"^/pulls/(\d+)/comments$", self._review_comments),
            (r"^/issues/(\d+)/labels(?:/(.+))?$", self._labels),
            (r"^/issues/(\d+)/comments$", self._comments),
            (r"^/issues/comments/(\d+)$", self._comment),
            (r"^/(issues|issues/comments|pulls/comments)/(\d+)/reactions$", self._reactions),
            (r"^/check-runs(?:/(\d+))?$", self._check_runs),
            (r"^/contents/(.+)$", self._contents),
            (r"^/compare/(.+)\.\.\.(.+)$", self._compare),
        ):
            pm = re.match(pattern, rest)
            if pm:
                return handler(repo, method, pm, query, body, who)
        return self._not_found()

    def _pulls(self, repo, method, m, query, body, who):
        if method != "GET":
            return self._not_found()
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            return self._invalid("state must be open, closed or all")
        found = [p for p in repo.pulls.values()
                 if state in ("all", p.get("state")) and
                 (not query.get("base") or p["base"]["ref"] == query["base"])]  # fmt: skip
        key = {"updated": "updated_at", "created": "created_at"}.get(query.get("sort", "created"))
        if key is None:
            return self._invalid("sort must be created, updated, popularity or long-running")
        desc = query.get("direction", "desc") == "desc"
        found.sort(key=lambda p: (p.get(key) or "", p["number"]), reverse=desc)
        return self._page(found, query, repo, "pulls")

    def _repo_labels(self, repo, method, m, query, body, who):
        if method != "GET":
            return self._not_found()
        return self._page(repo.repo_labels, query, repo, "labels")

    def _releases(self, repo, method, m, query, body, who):
        if m.group(1):  # /releases/latest: the newest published, non-prerelease one
            done = [r for r in repo.releases if not r["draft"] and not r["prerelease"]]
            if method != "GET" or not done:
                return self._not_found()
            return 200, max(done, key=lambda r: r["published_at"]), {}
        if method == "GET":
            return self._page(repo.releases, query, repo, "releases")
        if method != "POST":
            return self._not_found()
        if not isinstance(body, dict) or not isinstance(body.get("tag_name"), str):
            return self._invalid("tag_name is missing")
        if any(r["tag_name"] == body["tag_name"] for r in repo.releases):
            return self._invalid("tag_name already_exists")
        self._next_id += 1
        draft = bool(body.get("draft"))
        made = {
            "id": self._next_id,
            "tag_name": body["tag_name"],
            "target_commitish": body.get("target_commitish") or "main",
            "name": body.get("name") or body["tag_name"],
            "body": body.get("body") or "",
            "draft": draft,
            "prerelease": bool(body.get("prerelease")),
            "created_at": _now(),
            "published_at": None if draft else _now(),
            "html_url": f"https://github.com/{repo.full_name}/releases/tag/{body['tag_name']}",
            "author": {"login": who[0], "type": who[1]},
        }
        repo.releases.append(made)
        return 201, made, {}

    def _pull(self, repo, method, m, query, body, who):
        n = int(m.group(1))
        if n not in repo.pulls or method != "GET":
            return self._not_found()
        self._refresh(repo, n)
        return 200, repo.pulls[n], {}

    def _files(self, repo, method, m, query, body, who):
        n = int(m.group(1))
        if n not in repo.pulls or method != "GET":
            return self._not_found()
        if query.get("page", "1") == "1":
            self._refresh(repo, n)
        return self._page(repo.files[n], query, repo, f"pulls/{n}/files")

    def _commits(self, repo, method, m, query, body, who):
        n = int(m.group(1))
        if n not in repo.pulls or method != "GET":
            return self._not_found()
        if query.get("page", "1") == "1":
            self._refresh(repo, n)
        return self._page(repo.commits.get(n, []), query, repo, f"pulls/{n}/commits")

    def _reviews(self, repo, method, m, query, body, who):
        n = int(m.group(1))
        if n not in repo.pulls:
            return self._not_found()
        if method == "GET":
            return self._page(repo.reviews.get(n, []), query, repo, f"pulls/{n}/reviews")
        if method != "POST" or not isinstance(body, dict):
            return self._not_found()
        patches = {f["filename"]: f.get("patch") or "" for f in repo.files.get(n, [])}
        for c in body.get("comments") or []:
            lines = diff_lines(patches.get(c.get("path"), ""))[c.get("side", "RIGHT")]
            wanted = [c.get("line"), c.get("start_line", c.get("line"))]
            if c.get("path") not in patches or not all(x in lines for x in wanted):
                return 422, {"message": "Unprocessable Entity",
                             "errors": ["Pull request review thread line must be part of the diff"],
                             "documentation_url": DOCS}, {}  # fmt: skip
        self._next_id += 1
        review = {"id": self._next_id, "body": body.get("body") or "", "state": "COMMENTED",
                  "commit_id": body.get("commit_id"), "user": {"login": who[0], "type": who[1]},
                  "html_url": f"https://github.com/{repo.full_name}/pull/{n}"}  # fmt: skip
        repo.reviews.setdefault(n, []).append(review)
        for c in body.get("comments") or []:
            self._new_review_comment(repo, n, who, review_id=review["id"], **c)
        return 200, review, {}

    def _new_review_comment(self, repo, n, who, **fields):
        self._next_id += 1
        c = {
            "id": self._next_id,
            "pull_request_review_id": fields.pop("review_id", None),
            "in_reply_to_id": fields.pop("in_reply_to_id", None),
            "path": fields.get("path"),
            "line": fields.get("line"),
            "side": fields.get("side", "RIGHT"),
            "start_line": fields.get("start_line"),
            "body": fields.get("body") or "",
            "commit_id": repo.pulls[n]["head"]["sha"],
            "user": {"login": who[0], "type": who[1]},
            "author_association": "NONE" if who[1] == "Bot" else "MEMBER",
            "created_at": _now(),
            "updated_at": _now(),
            "html_url": f"https://github.com/{repo.full_name}/pull/{n}#discussion_r{self._next_id}",
            "reactions": {"url": "", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
                          "confused": 0, "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0},
        }  # fmt: skip
        repo.review_comments.setdefault(n, []).append(c)
        return c

    def _review_comments(self, repo, method, m, query, body, who):
        n = int(m.group(1))
        if n not in repo.pulls or method != "GET":
            return self._not_found()
        found = repo.review_comments.get(n, [])
        return self._page(found, query, repo, f"pulls/{n}/comments")

    def _reply(self, repo, method, m, query, body, who):
        n, cid = int(m.group(1)), int(m.group(2))
        parent = next((c for c in repo.review_comments.get(n, []) if c["id"] == cid), None)
        if method != "POST" or parent is None:
            return self._not_found()
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            return self._invalid("body is missing")
        c = self._new_review_comment(repo, n, who, in_reply_to_id=cid, path=parent["path"],
                                     line=parent["line"], body=body["body"])  # fmt: skip
        return 201, c, {}

    def _labels(self, repo, method, m, query, body, who):
        n = int(m.group(1))
        labels = repo.labels.setdefault(n, [])
        name = m.group(2)
        if method == "GET" and not name:
            objs = [{"name": lb, "color": "ededed", "default": False} for lb in labels]
            return self._page(objs, query, repo, f"issues/{n}/labels")
        if method == "POST" and not name:
            names = body.get("labels") if isinstance(body, dict) else None
            if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
                return self._invalid("labels must be a list of strings")
            labels.extend(x for x in names if x not in labels)
            return 200, [{"name": lb} for lb in labels], {}
        if method == "DELETE" and name:
            if name not in labels:
                return 404, {"message": "Label does not exist", "documentation_url": DOCS}, {}
            labels.remove(name)
            return 200, [{"name": lb} for lb in labels], {}
        return self._not_found()

    def _comments(self, repo, method, m, query, body, who):
        n = int(m.group(1))
        if method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("body"), str):
                return self._invalid("body is missing")
            if len(body["body"]) > 65536:
                return self._invalid("Body is too long (maximum is 65536 characters)")
            return 201, self._new_comment(repo, n, body["body"], who), {}
        if method == "GET":
            return self._page(repo.comments.get(n, []), query, repo, f"issues/{n}/comments")
        return self._not_found()

    def _comment(self, repo, method, m, query, body, who):
        cid = int(m.group(1))
        found = self._comment_index.get(cid)
        if found is None or found[0] is not repo:
            return self._not_found()
        _, n = found
        c = next(c for c in repo.comments[n] if c["id"] == cid)
        if method == "GET":
            return 200, c, {}
        if c["user"]["login"] != who[0]:
            return 403, {"message": "Must have admin rights to Repository."}, {}
        if method == "PATCH":
            if not isinstance(body, dict) or not isinstance(body.get("body"), str):
                return self._invalid("body is missing")
            c["body"], c["updated_at"] = body["body"], _now()
            return 200, c, {}
        if method == "DELETE":
            repo.comments[n].remove(c)
            del self._comment_index[cid]
            return 204, None, {}
        return self._not_found()

    def _reactions(self, repo, method, m, query, body, who):
        content = body.get("content") if isinstance(body, dict) else None
        if method != "POST":
            return self._not_found()
        if content not in {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}:
            return self._invalid("content is not included in the list")
        r = {"id": self._new_id(), "content": content, "subject": m.group(1),
             "subject_id": int(m.group(2)), "user": {"login": who[0]}}  # fmt: skip
        repo.reactions.append(r)
        if m.group(1) == "pulls/comments":
            for comments in repo.review_comments.values():
                for c in comments:
                    if c["id"] == r["subject_id"]:
                        c["reactions"][content] += 1
                        c["reactions"]["total_count"] += 1
        return 201, r, {}

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _check_runs(self, repo, method, m, query, body, who):
        if not isinstance(body, dict):
            return self._not_found()
        if method == "POST" and m.group(1) is None:
            if not body.get("name") or not body.get("head_sha"):
                return self._invalid("name and head_sha are required")
            if body.get("status") == "completed" and not body.get("conclusion"):
                return self._invalid("conclusion is required when status is completed")
            run = {**body, "id": self._new_id()}
            repo.check_runs[run["id"]] = run
            return 201, run, {}
        if method == "PATCH" and m.group(1) is not None:
            run = repo.check_runs.get(int(m.group(1)))
            if run is None:
                return self._not_found()
            run.update(body)
            return 200, run, {}
        return self._not_found()

    def _contents(self, repo, method, m, query, body, who):
        path = m.group(1)
        ref = query.get("ref") or repo.data.get("default_branch") or "main"
        data = repo.contents.get(ref, {}).get(path)
        if data is None and repo.git is not None:
            data = repo.git.show(ref, path)
        if data is None or method != "GET":
            return self._not_found()
        return 200, {"type": "file", "path": path, "name": path.rsplit("/", 1)[-1],
                     "size": len(data), "encoding": "base64",
                     "content": base64.encodebytes(data).decode()}, {}  # fmt: skip

    def _compare(self, repo, method, m, query, body, who):
        key = f"{m.group(1)}...{m.group(2)}"
        found = repo.compares.get(key)
        if found is None and repo.git is not None:
            found = repo.git.compare(m.group(1), m.group(2))
        if found is None or method != "GET":
            return self._not_found()
        per_page = min(int(query.get("per_page", 250)), 250)
        page = int(query.get("page", 1))
        commits = found.get("commits", [])
        out = {**found, "commits": commits[(page - 1) * per_page : page * per_page]}
        headers = {}
        if page * per_page < len(commits):
            headers["Link"] = (f'<https://api.github.com/repositories/{repo.id}/compare/{key}'
                               f'?per_page={per_page}&page={page + 1}>; rel="next"')  # fmt: skip
        return 200, out, headers


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())
