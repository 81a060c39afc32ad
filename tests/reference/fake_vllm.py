"""fake_vllm.py: a loopback server that speaks vLLM's OpenAI completion schema, for
tests/cli/test_http_backends.sh and the `vllm` backend (src/backend/vllm.c).

Usage (Debian's /usr/bin/python3, standard library only):
  fake_vllm.py --scorer LLAMA_SCORE --model MODEL.gguf --name NAME --port-file FILE --log LOG
               [--max-model-len 2048] [--api-key KEY] [--html]
Listens on 127.0.0.1 (a free port, written to FILE once it listens), HTTP/1.1 keep-alive, many
requests at once, until killed.

  GET  /v1/models       {"object": "list", "data": [{"id": NAME, ...}]}
  POST /v1/completions  vLLM's answer to a completion request. Its numbers come from a real
      model: tools/llama_score (one process kept open, record "P"; an independent program on
      llama.cpp's API) gives every prompt token's log-probability given the tokens before it and
      the argmax there, the prompt tokenised as a server does (BOS when the vocabulary adds one).
      A scoring request ("echo": true, "logprobs": 1, "max_tokens": 1) is answered as vLLM
      answers it: choices[0].logprobs = {tokens, token_logprobs, top_logprobs, text_offset} over
      the prompt's tokens (the first has no log-prob) and one generated token, token strings
      decoded incrementally (a token ending inside a UTF-8 character is "", the next carries
      it), a BOS as its text, offsets the running sum of their lengths, top_logprobs
      {token: lp, top-1: lp}; prompt_logprobs in vLLM's own form beside it; usage.prompt_tokens.
      A generation request is answered with a fixed text cut at its stop strings, as vLLM does
      with native stops. A prompt longer than max_model_len (with the generation budget) is a
      400 with vLLM's message, unless truncate_prompt_tokens keeps its last tokens (the text
      from the first kept token is re-scored).
      Every request body is checked against the exact JSON the backend must send (the key
      order, values, types, and the spec's pass-through fields); a mismatch is a 400 logged as
      "bad".
  POST /control         changes the behaviour (a JSON object; missing keys keep their value):
      fault: null | "500" | "429" | "403" | "quota" | "reset" | "stall" | "malformed" | "trickle"
             | "nochoices"
      every: a prompt misbehaves when sha256(prompt)[0] % every == 0 (1: every prompt; a
      prompt under 16 characters, a backend's probe, never does)
      times: how many attempts of such a prompt misbehave (then it is answered normally)
      retry_after: seconds in a 429's Retry-After; stall: seconds a stalled answer waits
      delay: seconds every completion waits before answering; max_model_len; extra: the
      pass-through fields expected at the end of each body; form: "openai" (default) or
      "prompt_logprobs" (logprobs null, only vLLM's prompt_logprobs); usage: false drops usage;
      api_key: the key every request must carry (null: none); html: true answers every
      request with an HTML page; reset_counts: true forgets attempt counts.
      500: HTTP 500 with an error object. 429: HTTP 429 with Retry-After. 403: HTTP 403 (a
      prompt refused, as a moderation layer does). quota: OpenAI's 429 insufficient_quota. reset: the status
      line, headers and half the body, then a TCP reset. stall: nothing until `stall` seconds
      have passed, then the answer. malformed: 200 with truncated JSON. trickle: the whole
      answer, 64 bytes every 2 ms. nochoices: 200 with a JSON object without choices.
  GET  /stats           {"requests": n, "in_flight": n, "max_in_flight": n}
--api-key and --html set api_key and html at start. LOG gets one JSON line per request: {"t", "path", "status", "fault",
"attempt", "prompt", "auth", "bad"}. Reads nothing but its arguments, the model and requests.
"""
import argparse
import hashlib
import http.server
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

# A generation as vLLM sends it; its NUL byte (a byte token <0x00>) is text to keep.
GEN_TEXT = " The answer\0 is (B).\nQuestion: and then?\n\nAnswer: C"


class Scorer:
    """tools/llama_score kept open; results cached by prompt text."""

    def __init__(self, scorer, model):
        self.p = subprocess.Popen([scorer, model, "2"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        self.lock = threading.Lock()
        self.cache = {}

    def score(self, text):
        with self.lock:
            if text in self.cache:
                return self.cache[text]
            b = text.encode()
            self.p.stdin.write(b"P %d\n" % len(b) + b + b"\n")
            self.p.stdin.flush()
            head = self.p.stdout.readline().split()
            if len(head) != 2 or head[0] != b"P":
                raise RuntimeError("llama_score: bad answer %r" % head)
            toks = []
            for _ in range(int(head[1])):
                f = self.p.stdout.readline().decode().split()
                unhex = lambda h: b"" if h == "-" else bytes.fromhex(h)
                toks.append({"id": int(f[0]), "lp": None if f[1] == "nan" else float(f[1]),
                             "top": int(f[2]), "top_lp": None if f[3] == "nan" else float(f[3]),
                             "piece": unhex(f[4]), "top_piece": unhex(f[5])})
            self.cache[text] = toks
            return toks


def decode_incrementally(pieces):
    """Token strings as a detokenizer streams them: each token gets the characters it
    completes."""
    out, pending = [], b""
    for p in pieces:
        pending += p
        k = len(pending)
        while k > 0:
            try:
                s = pending[:k].decode()
                break
            except UnicodeDecodeError:
                k -= 1
        else:
            s = ""
        out.append(s)
        pending = pending[k:]
    return out


def piece_text(b):
    return b.decode(errors="replace")


class State:
    def __init__(self, args):
        self.args = args
        self.scorer = Scorer(args.scorer, args.model)
        self.lock = threading.Lock()
        self.conf = {"fault": None, "every": 1, "times": 1, "retry_after": 1, "stall": 30,
                     "delay": 0, "max_model_len": args.max_model_len, "extra": {},
                     "form": "openai", "usage": True, "api_key": args.api_key,
                     "html": args.html}
        self.attempts = {}
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.log = open(args.log, "a", encoding="utf-8")

    def write_log(self, rec):
        with self.lock:
            self.log.write(json.dumps(rec, ensure_ascii=False) + "\n")
            self.log.flush()


SCORING_OWN = ("max_tokens", "logprobs", "echo")


def expected_keys(body, extra):
    """The body the backend must send, rebuilt from the request's own prompt and mode and the
    fields the spec passes through (extra): a scoring request sets max_tokens, logprobs and
    echo itself whatever extra says; a generation leaves a passed max_tokens to extra."""
    exp = {"model": None, "prompt": body.get("prompt")}
    if body.get("echo") is True:
        exp.update({"max_tokens": 1, "temperature": 0, "logprobs": 1, "echo": True})
        extra = {k: v for k, v in extra.items() if k not in SCORING_OWN}
    else:
        if "max_tokens" not in extra:
            exp["max_tokens"] = body.get("max_tokens")
        exp["temperature"] = 0
        if "stop" in body:
            exp["stop"] = body["stop"]
    if "truncate_prompt_tokens" in body:
        exp["truncate_prompt_tokens"] = body["truncate_prompt_tokens"]
    exp.update(extra)
    return exp


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_vllm/0.1"

    def setup(self):
        super().setup()
        # headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold every answer back ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *a):
        pass

    def send_json(self, status, obj, extra_headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        return data

    def html(self):
        data = b"<!DOCTYPE html><html><body>Welcome to nginx!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorised(self):
        key = self.server.st.conf["api_key"]
        return not key or self.headers.get("Authorization") == "Bearer " + key

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        st = self.server.st
        if st.conf["html"]:
            return self.html()
        if not self.authorised():
            st.write_log({"t": time.time(), "path": self.path, "status": 401, "auth": False})
            return self.send_json(401, {"error": "Unauthorized"})
        if self.path == "/v1/models":
            st.write_log({"t": time.time(), "path": self.path, "status": 200,
                          "auth": "Authorization" in self.headers})
            return self.send_json(200, {"object": "list", "data": [
                {"id": st.args.name, "object": "model", "owned_by": "vllm",
                 "max_model_len": st.conf["max_model_len"]}]})
        if self.path == "/stats":
            return self.send_json(200, {"requests": st.requests, "in_flight": st.in_flight,
                                        "max_in_flight": st.max_in_flight})
        return self.send_json(404, {"detail": "Not Found"})

    def do_POST(self):
        st = self.server.st
        raw = self.read_body()
        if self.path == "/control":
            c = json.loads(raw)
            with st.lock:
                if c.pop("reset_counts", False):
                    st.attempts = {}
                    st.max_in_flight = 0
                st.conf.update(c)
            return self.send_json(200, {"ok": True})
        if st.conf["html"]:
            return self.html()
        if not self.authorised():
            st.write_log({"t": time.time(), "path": self.path, "status": 401, "auth": False})
            return self.send_json(401, {"error": "Unauthorized"})
        if self.path != "/v1/completions":
            return self.send_json(404, {"detail": "Not Found"})
        with st.lock:
            st.requests += 1
            st.in_flight += 1
            st.max_in_flight = max(st.max_in_flight, st.in_flight)
        try:
            self.completion(st, raw)
        finally:
            with st.lock:
                st.in_flight -= 1

    def completion(self, st, raw):
        rec = {"t": time.time(), "path": self.path, "auth": "Authorization" in self.headers}
        try:
            body = json.loads(raw)
        except ValueError:
            rec.update(status=400, bad="not JSON")
            st.write_log(rec)
            return self.send_json(400, {"error": {"message": "not JSON"}})
        conf = dict(st.conf)
        prompt = body.get("prompt")
        rec["prompt"] = prompt
        exp = expected_keys(body, conf["extra"])
        exp["model"] = st.args.name
        want = json.dumps(exp, ensure_ascii=False, separators=(",", ":")).encode()
        if raw != want or not isinstance(prompt, str):
            rec.update(status=400, bad=raw.decode(errors="replace"), want=want.decode())
            st.write_log(rec)
            return self.send_json(400, {"error": {"message": "fake_vllm: unexpected request"}})
        with st.lock:
            n = st.attempts.get(prompt, 0) + 1
            st.attempts[prompt] = n
        rec["attempt"] = n
        fault = conf["fault"]
        h = hashlib.sha256(prompt.encode()).digest()[0]
        if not fault or h % max(1, int(conf["every"])) or n > int(conf["times"]) or \
                len(prompt) < 16:  # a backend's probe ("Hi", one token) is spared
            fault = None
        rec["fault"] = fault
        if conf["delay"]:
            time.sleep(float(conf["delay"]))
        if fault == "500":
            rec["status"] = 500
            st.write_log(rec)
            return self.send_json(500, {"error": {"message": "injected server error",
                                                  "type": "InternalServerError"}})
        if fault == "429":
            rec["status"] = 429
            st.write_log(rec)
            return self.send_json(429, {"error": {"message": "rate limited"}},
                                  [("Retry-After", str(conf["retry_after"]))])
        if fault in ("403", "quota"):
            rec["status"] = 403 if fault == "403" else 429
            st.write_log(rec)
            if fault == "403":
                return self.send_json(403, {"error": {"message": "injected refusal"}})
            return self.send_json(429, {"error": {"message": "You exceeded your current quota",
                                                  "type": "insufficient_quota",
                                                  "code": "insufficient_quota"}})
        if fault == "nochoices":
            rec["status"] = 200
            st.write_log(rec)
            return self.send_json(200, {"id": "cmpl-x", "object": "text_completion"})
        if fault == "stall":
            rec["status"] = "stall"
            st.write_log(rec)
            time.sleep(float(conf["stall"]))
        try:
            status, answer = self.answer(st, conf, body)
        except Exception as e:  # a scorer failure is the test's failure: say so
            status, answer = 500, {"error": {"message": "fake_vllm: %r" % e}}
        data = json.dumps(answer).encode()
        if fault == "malformed":
            data = data[: len(data) // 2]
        if fault != "stall":
            rec["status"] = status
            st.write_log(rec)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if fault == "reset":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            if fault == "trickle":
                for i in range(0, len(data), 64):
                    self.wfile.write(data[i:i + 64])
                    self.wfile.flush()
                    time.sleep(0.002)
            else:
                self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def answer(self, st, conf, body):
        prompt = body["prompt"]
        toks = st.scorer.score(prompt)
        limit = int(conf["max_model_len"])
        budget = int(body["max_tokens"])
        trunc = body.get("truncate_prompt_tokens")
        if trunc is not None and len(toks) > trunc:
            # vLLM keeps the prompt's last `trunc` tokens: the text from the first kept one
            strs = decode_incrementally([t["piece"] for t in toks])
            extra = max(0, len("".join(strs)) - len(prompt))  # a BOS's text
            start = sum(len(s) for s in strs[: len(toks) - trunc]) - extra
            prompt = prompt[max(0, start):]
            toks = st.scorer.score(prompt)
        if len(toks) + budget > limit:
            return 400, {"object": "error", "type": "BadRequestError", "code": 400,
                         "message": "This model's maximum context length is %d tokens. However, "
                                    "you requested %d tokens (%d in the messages, %d in the "
                                    "completion). Please reduce the length of the messages or "
                                    "completion." % (limit, len(toks) + budget, len(toks), budget)}
        head = {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()),
                "model": st.args.name}
        if not body.get("echo"):
            text, reason = GEN_TEXT, "length"
            for s in body.get("stop") or []:
                k = text.find(s)
                if s and k >= 0:
                    text, reason = text[:k], "stop"
            ans = dict(head, choices=[{"index": 0, "text": text, "logprobs": None,
                                       "finish_reason": reason, "stop_reason": None}])
            if conf["usage"]:
                ans["usage"] = {"prompt_tokens": len(toks), "completion_tokens": 3,
                                "total_tokens": len(toks) + 3}
            return 200, ans
        strs = decode_incrementally([t["piece"] for t in toks])
        tokens, lps, tops, offs, plp, pos = [], [], [], [], [], 0
        for t, s in zip(toks, strs):
            tokens.append(s)
            offs.append(pos)
            pos += len(s)
            lps.append(t["lp"])
            if t["lp"] is None:
                tops.append(None)
                plp.append(None)
                continue
            top = {s: t["lp"]}
            top.setdefault(piece_text(t["top_piece"]), t["top_lp"])
            tops.append(top)
            d = {str(t["id"]): {"logprob": t["lp"], "rank": 1 if t["id"] == t["top"] else 2,
                                "decoded_token": s}}
            d.setdefault(str(t["top"]), {"logprob": t["top_lp"], "rank": 1,
                                         "decoded_token": piece_text(t["top_piece"])})
            plp.append(d)
        # the one generated token (max_tokens 1)
        tokens.append(" X")
        offs.append(pos)
        lps.append(-1.0)
        tops.append({" X": -1.0})
        choice = {"index": 0, "text": prompt + " X", "finish_reason": "length",
                  "stop_reason": None, "prompt_logprobs": plp,
                  "logprobs": {"text_offset": offs, "token_logprobs": lps, "tokens": tokens,
                               "top_logprobs": tops}}
        if conf["form"] == "prompt_logprobs":
            choice["logprobs"] = None
        ans = dict(head, choices=[choice])
        if conf["usage"]:
            ans["usage"] = {"prompt_tokens": len(toks), "completion_tokens": 1,
                            "total_tokens": len(toks) + 1}
        return 200, ans


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scorer", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--max-model-len", type=int, default=2048)
    ap.add_argument("--api-key")
    ap.add_argument("--html", action="store_true")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.st = State(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
