"""`.ci/mr-note`: one note (GitLab) or comment (GitHub) per merge request, added once and then
updated in place, the token only in a header; no token or a refused post leaves the job green.
Against a stand-in of each platform's API on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tools.paths import ROOT

TOKEN = "glpat-test-token-not-real-0123456789"


class FakeApi:
    """Keeps notes in memory; records (method, path, auth header) of every request."""

    def __init__(self, refuse: bool = False) -> None:
        self.notes: list[dict] = []
        self.calls: list[tuple[str, str, str]] = []
        self.refuse = refuse

    def handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, code: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                auth = self.headers.get("PRIVATE-TOKEN") or self.headers.get("Authorization") or ""
                api.calls.append((self.command, self.path.split("?")[0], auth))
                if api.refuse:
                    return self._reply(403, {"message": "403 Forbidden"})
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                if self.command == "GET":
                    return self._reply(200, api.notes)
                if self.command == "POST":
                    api.notes.append({"id": len(api.notes) + 7, "body": body["body"]})
                    return self._reply(201, api.notes[-1])
                note_id = int(self.path.rstrip("/").rsplit("/", 1)[1])
                note = next(n for n in api.notes if n["id"] == note_id)
                note["body"] = body["body"]
                return self._reply(200, note)

            do_GET = do_POST = do_PUT = do_PATCH = _handle

        return Handler


@pytest.fixture
def serve():
    servers = []

    def start(api: FakeApi) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), api.handler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def note(platform: str, summary: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITHUB_", "GATE_", "PR_"))}
    return subprocess.run([sys.executable, str(ROOT / ".ci" / "mr-note"), platform, str(summary)],
                          env={**keep, **env}, capture_output=True, text=True, timeout=60)


def test_gitlab_adds_one_note_then_updates_it(serve, tmp_path):
    api = FakeApi()
    env = {"GATE_NOTE_TOKEN": TOKEN, "CI_API_V4_URL": serve(api) + "/api/v4", "CI_PROJECT_ID": "12",
           "CI_MERGE_REQUEST_IID": "5"}
    summary = tmp_path / "summary.md"
    summary.write_text("# first\n")
    first = note("gitlab", summary, env)
    summary.write_text("# second\n")
    second = note("gitlab", summary, env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert len(api.notes) == 1 and api.notes[0]["body"].endswith("# second\n")
    assert [c[0] for c in api.calls] == ["GET", "POST", "GET", "PUT"]
    assert {c[1] for c in api.calls} >= {"/api/v4/projects/12/merge_requests/5/notes"}
    assert all(c[2] == TOKEN for c in api.calls)
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr


def test_github_comment_is_updated_in_place(serve, tmp_path):
    api = FakeApi()
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": serve(api), "GITHUB_REPOSITORY": "team/k3s-platform",
           "PR_NUMBER": "9"}
    summary = tmp_path / "summary.md"
    summary.write_text("x" * 70000)  # over GitHub's limit: cut, with a pointer to the artifact
    assert note("github", summary, env).returncode == 0
    assert note("github", summary, env).returncode == 0
    assert len(api.notes) == 1 and len(api.notes[0]["body"]) < 65536
    assert "cut at 60000 characters" in api.notes[0]["body"]
    assert [c[0] for c in api.calls] == ["GET", "POST", "GET", "PATCH"]
    assert all(c[2] == f"Bearer {TOKEN}" for c in api.calls)


def test_no_token_or_a_refused_post_keeps_the_job_green(serve, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("# s\n")
    done = note("gitlab", summary, {})
    assert done.returncode == 0 and "GATE_NOTE_TOKEN is not set" in done.stdout
    api = FakeApi(refuse=True)
    done = note("gitlab", summary, {"GATE_NOTE_TOKEN": TOKEN, "CI_API_V4_URL": serve(api), "CI_PROJECT_ID": "1",
                                    "CI_MERGE_REQUEST_IID": "2"})
    assert done.returncode == 0
    assert "not posted (HTTPError: 403)" in done.stderr and TOKEN not in done.stderr
