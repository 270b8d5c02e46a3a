"""A Hugging Face Hub on 127.0.0.1 for tests: olah serves reads, a small server takes writes.

Reads go through PyPI `olah` in its local-git mirror mode (`mirrors-path`, offline), which
serves every git repository at `ROOT/models/ORG/REPO` as a Hub model repo, LFS files
included (objects in `.git/lfs/objects/`). No open-source server accepts uploads, so
`UploadServer` implements just the write endpoints that `HfApi.create_repo`,
`create_branch` and `upload_folder` (huggingface_hub 2.4, legacy LFS transfer; set
HF_HUB_DISABLE_XET=1) call, and commits into those same git repositories:

    POST /api/validate-yaml                          README front matter check
    POST /api/repos/create                           git init + .gitattributes commit
    POST /api/models/ORG/REPO/branch/BRANCH          new branch from main or startingPoint
    POST /api/models/ORG/REPO/preupload/REVISION     regular (text) or lfs (binary) per file
    GET  /api/models/ORG/REPO/tree/REVISION          file list (upload_folder's delete_patterns)
    POST /ORG/REPO.git/info/lfs/objects/batch        LFS batch: upload + verify actions
    PUT  /lfs/ORG/REPO/OID                           the object itself (sha256 checked)
    POST /lfs/ORG/REPO/OID/verify                    object stored with the right size
    POST /api/models/ORG/REPO/commit/REVISION        NDJSON commit (or ?create_pr=1)

Commits use git plumbing (a private index file), so the work trees are never touched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.app_harness import free_port

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "local hub",
    "GIT_AUTHOR_EMAIL": "hub@127.0.0.1",
    "GIT_COMMITTER_NAME": "local hub",
    "GIT_COMMITTER_EMAIL": "hub@127.0.0.1",
}
# What the Hub puts in a new model repo: binary model formats go to LFS.
GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in ("*.h5", "*.keras", "*.tflite", "*.png", "*.bin", "*.safetensors")
)
LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"


def wait_for_port(port: int, timeout: float = 30.0, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


class GitRepos:
    """Model repos as plain git repositories at ROOT/models/ORG/REPO (what olah mirrors)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.lock = threading.Lock()

    def path(self, repo_id: str) -> Path:
        return self.root / "models" / repo_id

    def git(self, repo_id: str, *args: str, data: bytes | None = None, env=None) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=self.path(repo_id),
            input=data,
            capture_output=True,
            env={**os.environ, **GIT_IDENTITY, **(env or {})},
            check=True,
            timeout=60,
        )
        return result.stdout.decode().strip()

    def exists(self, repo_id: str) -> bool:
        return (self.path(repo_id) / ".git").is_dir()

    def resolve(self, repo_id: str, revision: str) -> str | None:
        try:
            return self.git(repo_id, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
        except subprocess.CalledProcessError:
            return None

    def lfs_object(self, repo_id: str, oid: str) -> Path:
        return self.path(repo_id) / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid

    def create(self, repo_id: str) -> None:
        self.path(repo_id).mkdir(parents=True)
        self.git(repo_id, "init", "--quiet", "--initial-branch=main")
        self.commit(repo_id, "main", {".gitattributes": GITATTRIBUTES.encode()}, set(), "initial")

    def read(self, repo_id: str, revision: str, path: str) -> bytes | None:
        try:
            return subprocess.run(
                ["git", "cat-file", "blob", f"{revision}:{path}"],
                cwd=self.path(repo_id),
                capture_output=True,
                check=True,
            ).stdout
        except subprocess.CalledProcessError:
            return None

    def commit(
        self,
        repo_id: str,
        ref: str,
        files: dict[str, bytes],
        deleted: set[str],
        message: str,
        parent: str | None = None,
    ) -> str:
        """Write one commit on `ref` (a branch or a full ref name) on top of `parent`."""
        full_ref = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        index = self.path(repo_id) / ".git" / f"upload-index-{threading.get_ident()}"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            if parent:
                self.git(repo_id, "read-tree", parent, env=env)
            else:
                self.git(repo_id, "read-tree", "--empty", env=env)
            for path in sorted(deleted):
                self.git(repo_id, "rm", "--cached", "-r", "--quiet", "--", path, env=env)
            for path, content in files.items():
                blob = self.git(repo_id, "hash-object", "-w", "--stdin", data=content)
                self.git(
                    repo_id,
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    f"100644,{blob},{path}",
                    env=env,
                )
            tree = self.git(repo_id, "write-tree", env=env)
        finally:
            index.unlink(missing_ok=True)
        parents = ["-p", parent] if parent else []
        commit = self.git(repo_id, "commit-tree", tree, *parents, "-m", message)
        # Compare-and-swap: the ref must still be where it was (or absent, for a new ref).
        old = self.resolve(repo_id, full_ref) if parent else None
        self.git(repo_id, "update-ref", full_ref, commit, old or "0" * 40)
        return commit


def _error(status: int, message: str) -> JSONResponse:
    # huggingface_hub shows "error" to the user and maps 404s by the X-Error-Code header.
    return JSONResponse({"error": message}, status_code=status)


class UploadServer:
    """The Hub's write endpoints over `GitRepos`, on a uvicorn thread (see module docstring)."""

    def __init__(self, repos: GitRepos, port: int | None = None):
        self.repos = repos
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.requests: list[str] = []  # "METHOD path" of every request, for assertions
        routes = [
            Route("/api/validate-yaml", self.validate_yaml, methods=["POST"]),
            Route("/api/repos/create", self.create_repo, methods=["POST"]),
            Route(
                "/api/models/{org}/{name}/branch/{branch:path}",
                self.create_branch,
                methods=["POST"],
            ),
            Route(
                "/api/models/{org}/{name}/preupload/{revision:path}",
                self.preupload,
                methods=["POST"],
            ),
            Route("/api/models/{org}/{name}/tree/{revision:path}", self.tree, methods=["GET"]),
            Route("/{org}/{name}.git/info/lfs/objects/batch", self.lfs_batch, methods=["POST"]),
            Route("/lfs/{org}/{name}/{oid}", self.lfs_put, methods=["PUT"]),
            Route("/lfs/{org}/{name}/{oid}/verify", self.lfs_verify, methods=["POST"]),
            Route("/api/models/{org}/{name}/commit/{revision:path}", self.commit, methods=["POST"]),
        ]
        self.app = Starlette(routes=routes)
        self.app.add_middleware(_RequestLog, log=self.requests)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> UploadServer:
        self.thread.start()
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @staticmethod
    def _repo_id(request: Request) -> str:
        return f"{request.path_params['org']}/{request.path_params['name']}"

    async def validate_yaml(self, request: Request) -> Response:
        """Front matter must be a YAML mapping whose model-index huggingface_hub can parse."""
        from huggingface_hub.repocard_data import model_index_to_eval_results

        content = (await request.json())["content"]
        if not content.startswith("---\n"):
            return JSONResponse({"errors": [], "warnings": [{"message": "empty metadata"}]})
        try:
            metadata = yaml.safe_load(content.split("---\n", 2)[1])
            if not isinstance(metadata, dict):
                raise ValueError("metadata is not a mapping")
            if "model-index" in metadata:
                model_index_to_eval_results(metadata["model-index"])
        except Exception as error:  # any parse failure is the client's error, as on the Hub
            return JSONResponse({"errors": [{"message": str(error)}]}, status_code=400)
        return JSONResponse({"errors": [], "warnings": []})

    async def create_repo(self, request: Request) -> Response:
        payload = await request.json()
        if payload.get("type", "model") != "model":
            return _error(400, "this test hub only holds model repos")
        repo_id = f"{payload['organization']}/{payload['name']}"
        url = f"{self.endpoint}/{repo_id}"
        with self.repos.lock:
            if self.repos.exists(repo_id):
                # The Hub answers 409 with the URL; create_repo(exist_ok=True) reads it.
                return JSONResponse(
                    {"error": "You already created this model repo", "url": url}, status_code=409
                )
            self.repos.create(repo_id)
        return JSONResponse({"url": url, "name": repo_id})

    async def create_branch(self, request: Request) -> Response:
        repo_id, branch = self._repo_id(request), request.path_params["branch"]
        payload = await request.json() if await request.body() else {}
        with self.repos.lock:
            if not self.repos.exists(repo_id):
                return _error(404, "Repository not found")
            if self.repos.resolve(repo_id, f"refs/heads/{branch}"):
                return _error(409, f"Reference refs/heads/{branch} already exists")
            start = self.repos.resolve(repo_id, payload.get("startingPoint") or "main")
            if start is None:
                return _error(400, "Invalid startingPoint")
            self.repos.git(repo_id, "update-ref", f"refs/heads/{branch}", start)
        return JSONResponse({})

    async def preupload(self, request: Request) -> Response:
        """Binary files (a NUL byte in the sample) or files over 10 MB go to LFS, as on the Hub."""
        repo_id = self._repo_id(request)
        if not self.repos.exists(repo_id):
            return _error(404, "Repository not found")
        files = []
        for file in (await request.json())["files"]:
            sample = base64.b64decode(file["sample"])
            binary = b"\0" in sample or file["size"] > 10 * 1024 * 1024
            files.append(
                {
                    "path": file["path"],
                    "uploadMode": "lfs" if binary else "regular",
                    "shouldIgnore": False,
                }
            )
        return JSONResponse({"files": files})

    async def tree(self, request: Request) -> Response:
        repo_id, revision = self._repo_id(request), request.path_params["revision"]
        if not self.repos.exists(repo_id):
            return _error(404, "Repository not found")
        commit = self.repos.resolve(repo_id, revision)
        if commit is None:
            return _error(404, f"Invalid rev id: {revision}")
        entries = []
        for line in self.repos.git(repo_id, "ls-tree", "-r", "-l", commit).splitlines():
            meta, path = line.split("\t", 1)
            _, _, oid, size = meta.split()
            entries.append({"type": "file", "oid": oid, "size": int(size), "path": path})
        return JSONResponse(entries)

    async def lfs_batch(self, request: Request) -> Response:
        repo_id = self._repo_id(request)
        if not self.repos.exists(repo_id):
            return _error(404, "Repository not found")
        payload = await request.json()
        objects = []
        for item in payload["objects"]:
            oid, size = item["oid"], item["size"]
            entry = {"oid": oid, "size": size}
            if not self.repos.lfs_object(repo_id, oid).is_file():
                href = f"{self.endpoint}/lfs/{repo_id}/{oid}"
                entry["actions"] = {
                    "upload": {"href": href, "header": {}},
                    "verify": {"href": f"{href}/verify", "header": {}},
                }
            objects.append(entry)
        return JSONResponse({"transfer": "basic", "objects": objects})

    async def lfs_put(self, request: Request) -> Response:
        repo_id, oid = self._repo_id(request), request.path_params["oid"]
        content = await request.body()
        if hashlib.sha256(content).hexdigest() != oid:
            return _error(400, "content does not match its oid")
        path = self.repos.lfs_object(repo_id, oid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return Response(status_code=200)

    async def lfs_verify(self, request: Request) -> Response:
        repo_id = self._repo_id(request)
        payload = await request.json()
        path = self.repos.lfs_object(repo_id, payload["oid"])
        if not path.is_file() or path.stat().st_size != payload["size"]:
            return _error(404, "object not uploaded")
        return JSONResponse({})

    async def commit(self, request: Request) -> Response:
        repo_id, revision = self._repo_id(request), request.path_params["revision"]
        create_pr = request.query_params.get("create_pr") == "1"
        lines = [json.loads(line) for line in (await request.body()).splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        files: dict[str, bytes] = {}
        deleted: set[str] = set()
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                if not self.repos.lfs_object(repo_id, value["oid"]).is_file():
                    return _error(400, f"LFS object of {value['path']} was not uploaded")
                pointer = LFS_POINTER.format(oid=value["oid"], size=value["size"])
                files[value["path"]] = pointer.encode()
            elif key in ("deletedFile", "deletedFolder"):
                deleted.add(value["path"].rstrip("/"))
            elif key != "header":
                return _error(400, f"unsupported commit operation {key!r}")
        message = header["summary"] + (
            f"\n\n{header['description']}" if header["description"] else ""
        )
        with self.repos.lock:
            if not self.repos.exists(repo_id):
                return _error(404, "Repository not found")
            tip = self.repos.resolve(repo_id, revision)
            if tip is None or (
                not create_pr and not self.repos.resolve(repo_id, f"refs/heads/{revision}")
            ):
                return JSONResponse(
                    {"error": f"Invalid rev id: {revision}"},
                    status_code=404,
                    headers={"X-Error-Code": "RevisionNotFound"},
                )
            if header.get("parentCommit") and header["parentCommit"] != tip:
                return _error(412, "A commit has happened since. Please refresh and try again.")
            pr_url = None
            if create_pr:
                number = 1 + sum(
                    1 for _ in self.repos.git(repo_id, "for-each-ref", "refs/pr/").splitlines()
                )
                ref = f"refs/pr/{number}"
                pr_url = f"{self.endpoint}/{repo_id}/discussions/{number}"
            else:
                ref = f"refs/heads/{revision}"
            oid = self.repos.commit(repo_id, ref, files, deleted, message, parent=tip)
        return JSONResponse(
            {
                "commitUrl": f"{self.endpoint}/{repo_id}/commit/{oid}",
                "commitOid": oid,
                "pullRequestUrl": pr_url,
                "success": True,
            }
        )


class _RequestLog:
    """ASGI middleware that records "METHOD path" of each HTTP request."""

    def __init__(self, app, log: list[str]):
        self.app, self.log = app, log

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.log.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the test process dies, even by SIGKILL."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class OlahServer:
    """`olah-cli -c olah.toml` serving ROOT's git repositories, offline, on a free port."""

    def __init__(self, mirrors: Path, workdir: Path, port: int | None = None):
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = self.workdir / "olah.toml"
        self.config.write_text(
            "[basic]\n"
            f'host = "127.0.0.1"\nport = {self.port}\n'
            f"mirrors-path = [{json.dumps(str(mirrors))}]\n"
            f"repos-path = {json.dumps(str(self.workdir / 'cache'))}\n"
            "[accessibility]\noffline = true\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> OlahServer:
        # `python -m olah.server` is what the olah-cli script runs, in this interpreter.
        self.log = open(self.workdir / "olah.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "olah.server", "-c", str(self.config)]
            + ["--log-path", str(self.workdir / "logs")],
            cwd=self.workdir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        try:
            wait_for_port(self.port, timeout, self.process)
        except Exception:
            self.stop()
            raise RuntimeError(
                f"olah did not start: {(self.workdir / 'olah.log').read_text()[-2000:]}"
            ) from None
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
