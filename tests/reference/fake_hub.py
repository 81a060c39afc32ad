#!/usr/bin/python3
"""fake_hub.py: a stand-in Hugging Face Hub on 127.0.0.1 for tests/unit/test_hub.c and the
tests/cli scripts that run mill against a Hub.

Standard library only (Debian's /usr/bin/python3). Serves repos from a directory tree, never
the network, and must not be used for anything but tests.

Usage: fake_hub.py ROOT      prints the port on stdout, then serves until /_ctl?quit=1 (or
                             10 minutes pass).

ROOT layout (written by the test):
  ROOT/<datasets|models>/<org>/<name>/hub.json   {"revisions": {"main": "<sha>", ...},
                                                  "token": "<secret>" (optional: private),
                                                  "lfs": ["*.bin", ...] (optional)}
  ROOT/<datasets|models>/<org>/<name>/<sha>/...  the files at that commit

Routes (as the Hub's):
  /api/<datasets|models>/<org>/<name>/revision/<rev>         {"id", "sha", "siblings"}
  /api/<datasets|models>/<org>/<name>/tree/<rev>[/<path>]    [{type, path, size, oid, lfs}]
      ?recursive=true[&cursor=N]; paginated with a Link rel="next" header when page_size > 0
  /datasets/<org>/<name>/resolve/<rev>/<path>, /<org>/<name>/resolve/<rev>/<path>
      plain files: 200 with ETag: W/"<git sha1>" and X-Repo-Commit; LFS files: 302 to the
      "CDN" at http://localhost:<port>/cdn/... (another host name) with X-Linked-Etag
      (the sha256), X-Linked-Size and X-Repo-Commit; Range: bytes=N- and bytes=N-M answered
      with 206 (416 past the end).
Test routes:
  /_stats   {"log": [{"method", "host", "path", "auth", "range"}, ...]}: every request but these
  /_ctl?... reset=1 (clear log and knobs), page_size=N, drop=<path>&after=N&times=K (send N
            body bytes then close the connection, K times), corrupt=<path> (wrong bytes, the
            right sha256 advertised), norange=<path> (answer 200 to Range), slow=<path>&rate=B
            (send its body B bytes a second, in 64 KiB pieces),
            fail=<text>&status=S&times=K[&retry_after=T] (the next K requests whose path holds
            <text> get HTTP S, with Retry-After: T when given; S=0 closes the connection without
            an answer; several fail= each take the status=, times= and retry_after= of the same
            rank), quit=1
"""
import fnmatch
import hashlib
import http.server
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

DEFAULT_LFS = ["*.bin", "*.tar", "*.parquet"]


class State:
    def __init__(self, root):
        self.root = root
        self.lock = threading.Lock()
        self.log = []
        self.reset()

    def reset(self):
        self.page_size = 0
        self.drop = {}
        self.corrupt = set()
        self.norange = set()
        self.slow = {}
        self.fail = []


STATE = None


def git_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, kind, org, name):
        self.kind, self.id = kind, org + "/" + name
        self.dir = os.path.join(STATE.root, kind, org, name)
        with open(os.path.join(self.dir, "hub.json")) as f:
            self.meta = json.load(f)

    def commit(self, rev):
        revs = self.meta.get("revisions", {})
        if rev in revs:
            return revs[rev]
        if len(rev) == 40 and os.path.isdir(os.path.join(self.dir, rev)):
            return rev
        return None

    def is_lfs(self, path):
        return any(fnmatch.fnmatch(path, p) for p in self.meta.get("lfs", DEFAULT_LFS))

    def files(self, commit):
        base = os.path.join(self.dir, commit)
        out = []
        for d, _, names in os.walk(base):
            for n in names:
                out.append(os.path.relpath(os.path.join(d, n), base).replace(os.sep, "/"))
        return sorted(out)

    def read(self, commit, path):
        full = os.path.join(self.dir, commit, *path.split("/"))
        if ".." in path.split("/") or not os.path.isfile(full):
            return None
        with open(full, "rb") as f:
            return f.read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    # -- plumbing --------------------------------------------------------------------------
    def reply(self, status, body=b"", headers=None, ctype="application/json"):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, msg, headers=None):
        h = {"X-Error-Code": code, "X-Error-Message": msg}
        h.update(headers or {})
        self.reply(status, json.dumps({"error": msg}).encode(), h)

    def host(self):
        return (self.headers.get("Host") or "").rsplit(":", 1)[0]

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        segs = [urllib.parse.unquote(s) for s in url.path.split("/")[1:]]
        if segs[0] == "_stats":
            with STATE.lock:
                body = json.dumps({"log": STATE.log}).encode()
            return self.reply(200, body)
        if segs[0] == "_ctl":
            return self.control(q)
        with STATE.lock:
            STATE.log.append({"method": self.command, "host": self.host(), "path": self.path,
                              "auth": self.headers.get("Authorization") or "",
                              "range": self.headers.get("Range") or ""})
        if self.failed():
            return None
        if segs[0] == "api" and len(segs) >= 6:
            return self.api(segs, q)
        if segs[0] == "cdn" and len(segs) >= 6:
            return self.cdn(segs)
        kind = "datasets" if segs[0] == "datasets" else "models"
        if kind == "datasets":
            segs = segs[1:]
        if len(segs) >= 5 and segs[2] == "resolve":
            return self.resolve(kind, segs)
        self.error(404, "NotFound", "no route")

    def control(self, q):
        one = {k: v[0] for k, v in q.items()}
        with STATE.lock:
            if "reset" in one:
                STATE.reset()
                STATE.log.clear()
            if "page_size" in one:
                STATE.page_size = int(one["page_size"])
            if "drop" in one:
                STATE.drop[one["drop"]] = [int(one.get("after", "0")),
                                           int(one.get("times", "1"))]
            if "corrupt" in one:
                STATE.corrupt.add(one["corrupt"])
            if "norange" in one:
                STATE.norange.add(one["norange"])
            for i, text in enumerate(q.get("fail", [])):
                def nth(key, default):
                    vals = q.get(key, [])
                    return vals[i] if i < len(vals) else default
                STATE.fail.append([text, int(nth("status", "503")), int(nth("times", "1")),
                                   nth("retry_after", None)])
            if "slow" in one:
                STATE.slow[one["slow"]] = int(one.get("rate", "1000000"))
        self.reply(200, b"{}")
        if "quit" in one:
            threading.Thread(target=self.server.shutdown, daemon=True).start()

    def failed(self):
        """Answers a request that a fail= knob matches; True when it did."""
        with STATE.lock:
            hit = next((f for f in STATE.fail if f[2] > 0 and f[0] in self.path), None)
            if hit:
                hit[2] -= 1
        if not hit:
            return False
        if hit[1] == 0:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        headers = {"Retry-After": hit[3]} if hit[3] else None
        self.error(hit[1], "ServiceUnavailable", "try again later", headers)
        return True

    def repo(self, kind, org, name):
        """The repo, or None after answering 401/404 (a private repo needs its token)."""
        try:
            repo = Repo(kind, org, name)
        except (OSError, ValueError):
            self.error(404, "RepoNotFound", "Repository not found")
            return None
        token = repo.meta.get("token")
        if token and self.headers.get("Authorization") != "Bearer " + token:
            msg = "Invalid credentials in Authorization header" \
                if self.headers.get("Authorization") else "Repository not found"
            self.error(401, "RepoNotFound", msg)
            return None
        return repo

    # -- API -------------------------------------------------------------------------------
    def api(self, segs, q):
        repo = self.repo(segs[1], segs[2], segs[3])
        if not repo:
            return None
        commit = repo.commit(segs[5])
        if not commit:
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + segs[5])
        if segs[4] == "revision":
            body = {"id": repo.id, "sha": commit,
                    "siblings": [{"rfilename": p} for p in repo.files(commit)]}
            return self.reply(200, json.dumps(body).encode(), {"X-Repo-Commit": commit})
        if segs[4] == "tree":
            return self.tree(repo, commit, "/".join(segs[6:]), q)
        return self.error(404, "NotFound", "no route")

    def entries(self, repo, commit, prefix):
        out, dirs = [], set()
        for p in repo.files(commit):
            if prefix and not p.startswith(prefix + "/"):
                continue
            parts = p.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if (not prefix or d.startswith(prefix + "/")) and d not in dirs:
                    dirs.add(d)
                    out.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": d})
            data = repo.read(commit, p)
            e = {"type": "file", "oid": git_oid(data), "size": len(data), "path": p}
            if repo.is_lfs(p):
                e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                            "pointerSize": 134}
            out.append(e)
        return out

    def tree(self, repo, commit, prefix, q):
        entries = self.entries(repo, commit, prefix)
        if prefix and not entries:
            return self.error(404, "EntryNotFound", prefix + " does not exist",
                              {"X-Repo-Commit": commit})
        start = int(q.get("cursor", ["0"])[0])
        headers = {}
        size = STATE.page_size
        if size and start + size < len(entries):
            query = dict((k, v[0]) for k, v in q.items())
            query["cursor"] = str(start + size)
            nxt = "http://%s%s?%s" % (self.headers.get("Host"),
                                      urllib.parse.urlsplit(self.path).path,
                                      urllib.parse.urlencode(query))
            headers["Link"] = '<%s>; rel="next"' % nxt
        page = entries[start:start + size] if size else entries
        self.reply(200, json.dumps(page).encode(), headers)

    # -- files -----------------------------------------------------------------------------
    def resolve(self, kind, segs):
        repo = self.repo(kind, segs[0], segs[1])
        if not repo:
            return None
        commit = repo.commit(segs[3])
        if not commit:
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + segs[3])
        path = "/".join(segs[4:])
        data = repo.read(commit, path)
        if data is None:
            return self.error(404, "EntryNotFound", "Entry not found",
                              {"X-Repo-Commit": commit})
        headers = {"X-Repo-Commit": commit}
        if not repo.is_lfs(path):
            headers["ETag"] = 'W/"%s"' % git_oid(data)
            return self.send_file(path, data, headers)
        port = self.server.server_address[1]
        loc = "http://localhost:%d/cdn/%s/%s/%s/%s" % (
            port, kind, repo.id, commit, urllib.parse.quote(path))
        headers.update({"Location": loc, "ETag": '"%s"' % git_oid(b"pointer " + data[:64]),
                        "X-Linked-Etag": '"%s"' % hashlib.sha256(data).hexdigest(),
                        "X-Linked-Size": str(len(data))})
        self.reply(302, b"", headers, "text/plain")

    def cdn(self, segs):
        if self.host() != "localhost":
            return self.error(404, "NotFound", "the CDN answers on localhost only")
        try:
            repo = Repo(segs[1], segs[2], segs[3])
        except (OSError, ValueError):
            return self.error(404, "NotFound", "no such object")
        path = "/".join(segs[5:])
        data = repo.read(segs[4], path)
        if data is None:
            return self.error(404, "NotFound", "no such object")
        self.send_file(path, data, {"ETag": '"cdn-%s"' % hashlib.md5(data).hexdigest()})

    def send_file(self, path, data, headers):
        with STATE.lock:
            if path in STATE.corrupt and data:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            norange = path in STATE.norange
            drop = STATE.drop.get(path)
            rate = STATE.slow.get(path)
            cut = None
            if drop and drop[1] > 0 and self.command == "GET":
                drop[1] -= 1
                cut = drop[0]
        status, start, end = 200, 0, len(data) - 1
        rng = self.headers.get("Range")
        if rng and not norange and rng.startswith("bytes=") and "-" in rng:
            first, last = rng[6:].split("-", 1)
            start = int(first)
            end = min(int(last), end) if last else end
            if start >= len(data) or end < start:
                headers["Content-Range"] = "bytes */%d" % len(data)
                return self.reply(416, b"", headers, "text/plain")
            status = 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, len(data))
        body = data[start:end + 1]
        headers["Accept-Ranges"] = "bytes"
        if rate and self.command == "GET":
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(0, len(body), 65536):
                    self.wfile.write(body[i:i + 65536])
                    self.wfile.flush()
                    time.sleep(65536 / rate)
            except OSError:
                self.close_connection = True
            return
        if cut is None:
            return self.reply(status, body, headers, "application/octet-stream")
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:cut])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # a client that hung up on purpose (a Range request answered with the whole file) is no
        # server error: no traceback for it
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main():
    global STATE
    STATE = State(os.path.abspath(sys.argv[1]))
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    watchdog = threading.Timer(600, server.shutdown)
    watchdog.daemon = True
    watchdog.start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
