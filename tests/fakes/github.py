"""A fake GitHub REST server on loopback, shaped like the real one.

Real HTTP (PyGithub talks to it exactly as to api.github.com): token auth
with 401 "Bad credentials", 404 "Not Found", Link pagination pointing at
/repositories/{id}/... like GitHub does, 422 validation errors, and injected
failures (status codes) for the next N requests to a path.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent.parent / "fixtures" / "github"
DOCS = "https://docs.github.com/rest"


@dataclass
class FakeRepo:
    full_name: str
    id: int
    data: dict[str, Any]
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


class FakeGitHub:
    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[dict[str, Any]] = []
        self.failures: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
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

    def fail_next(self, path: str, *statuses: int) -> None:
        """Answer the next requests to `path` with these statuses."""
        self.failures.setdefault(path, []).extend(statuses)

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] != "GET"]

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
                body = json.loads(raw) if raw else None
                status, payload, headers = fake._route(
                    self.command, url.path, query, body, dict(self.headers)
                )
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-RateLimit-Limit", "5000")
                self.send_header("X-RateLimit-Remaining", "4999")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _go

        return Handler

    def _route(self, method: str, path: str, query: dict, body: Any, headers: dict):
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "body": body,
                    "authorization": headers.get("Authorization"),
                }
            )
            queued = self.failures.get(path)
            if queued:
                status = queued.pop(0)
                return status, {"message": f"injected {status}", "documentation_url": DOCS}, {}
            if self.token is not None:
                auth = headers.get("Authorization") or ""
                if auth not in (f"token {self.token}", f"Bearer {self.token}"):
                    return 401, {"message": "Bad credentials", "documentation_url": DOCS}, {}
            return self._dispatch(method, path, query, body)

    def _not_found(self):
        return 404, {"message": "Not Found", "documentation_url": DOCS}, {}

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

    def _dispatch(self, method: str, path: str, query: dict, body: Any):
        m = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", path)
        if not m:
            return self._not_found()
        repo = self.repos.get(f"{m.group(1)}/{m.group(2)}".lower())
        if repo is None:
            return self._not_found()
        rest = urllib.parse.unquote(m.group(3) or "")
        if rest == "" and method == "GET":
            return 200, repo.data, {}
        if pm := re.match(r"^/pulls/(\d+)(/files)?$", rest):
            n = int(pm.group(1))
            if n not in repo.pulls or method != "GET":
                return self._not_found()
            if pm.group(2):
                return self._page(repo.files[n], query, repo, f"pulls/{n}/files")
            return 200, repo.pulls[n], {}
        if lm := re.match(r"^/issues/(\d+)/labels(?:/(.+))?$", rest):
            n = int(lm.group(1))
            labels = repo.labels.setdefault(n, [])
            if method == "GET" and not lm.group(2):
                objs = [{"name": lb, "color": "ededed", "default": False} for lb in labels]
                return self._page(objs, query, repo, f"issues/{n}/labels")
            if method == "POST" and not lm.group(2):
                names = body.get("labels") if isinstance(body, dict) else None
                if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
                    return 422, {"message": "Validation Failed", "documentation_url": DOCS}, {}
                labels.extend(x for x in names if x not in labels)
                return 200, [{"name": lb} for lb in labels], {}
            if method == "DELETE" and lm.group(2):
                if lm.group(2) not in labels:
                    return 404, {"message": "Label does not exist", "documentation_url": DOCS}, {}
                labels.remove(lm.group(2))
                return 200, [{"name": lb} for lb in labels], {}
        if cm := re.match(r"^/issues/(\d+)/comments$", rest):
            n = int(cm.group(1))
            if method == "POST":
                if not isinstance(body, dict) or not isinstance(body.get("body"), str):
                    return 422, {"message": "Validation Failed", "documentation_url": DOCS}, {}
                self._next_id += 1
                c = {"id": self._next_id, "body": body["body"], "user": {"login": "flows[bot]"}}
                repo.comments.setdefault(n, []).append(c)
                return 201, c, {}
            if method == "GET":
                items = repo.comments.get(n, [])
                return self._page(items, query, repo, f"issues/{n}/comments")
        return self._not_found()


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())
