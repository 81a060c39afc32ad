"""llama_server_peer.py: llama.cpp's own llama-server as a peer of Mill's llama backend, for
tests/cli/test_mmlu_pro.sh (generation budgets), tests/cli/test_llama.sh (left truncation) and
tests/cli/test_llama_oracle.sh (greedy generations), and of its log-likelihoods with images
(tests/cli/test_llama_vision.sh).

Usage (Debian's /usr/bin/python3, standard library only):
  llama_server_peer.py LLAMA_SERVER MODEL WORKDIR generate N... < prompts.jsonl
      one input line {"prompt": TEXT} -> one output line {"n_predict": {"N": {"content": TEXT,
      "tokens": [ids], "stop_type": "eos"|"limit"|...}, ...}}: llama-server's greedy generation
      of up to N tokens for each N given, the prompt tokenised as a server string prompt (the
      vocabulary's BOS added, special tokens parsed) and nothing else (no chat template).
  llama_server_peer.py LLAMA_SERVER MODEL WORKDIR loglik N_CTX < requests.jsonl
      one input line {"context": TEXT, "continuation": TEXT} -> one output line {"logprob": x,
      "is_greedy": b, "n_cont": n, "n_dropped": d}: the log-likelihood of the continuation as
      lm-eval's loglikelihood computes it for a model of max_length N_CTX, from llama-server's
      /tokenize and its next-token log-probabilities (see loglik()).
  llama_server_peer.py LLAMA_SERVER MODEL WORKDIR mmscore MMPROJ < requests.jsonl
      one input line {"context": TEXT, "media": [paths], "choices": [TEXT], "n_greedy": N} ->
      one output line {"prompt": P, "greedy": {"text": G, "tokens": [ids], "logprob": x},
      "choices": {TEXT: {"logprob": x, "greedy": b} or null}}: a prompt with images or audio as Mill's
      media log-likelihood sees it (the server's chat template on one user turn,
      "<__media__>" per medium then the context; the media sent as files), the server's greedy continuation of it (up to N
      tokens, cut before a token it reports no log-prob for, then while the prompt's last text
      + G does not tokenise as that text's tokens + G's) with the sum of its log-probs, and the
      log-prob of each choice that is one token after the prompt (null otherwise), from the
      first position's whole distribution, and whether it is that distribution's argmax (see
      mmscore()).
The server runs one slot, one thread and flash attention off (-fa off: Mill's llama backend is
compared with flash_attn=off, since flash attention's F16 accumulation follows the KV cells'
order, which differs between the two programs; without it their greedy generations of a
random-weight model agree token for token). It listens on a UNIX socket in WORKDIR (no port
to race for); its log is WORKDIR/llama-server.log. Startup is awaited on the event itself (GET
/health answers 200), bounded by 120 s and cut short when the server exits; the server is
killed when done. Reads nothing but its arguments and stdin, writes nothing but stdout and
WORKDIR.

llama-server gives no log-probs of prompt tokens (docs/DEPENDENCIES.md §5), so loglik() asks
for one generated token per continuation token, with n_probs = the vocabulary size so that
every token's log-prob comes back: the prompt is the token window itself (a list of ids, which
the server uses as given: no BOS added), and post_sampling_probs is off, so the values are
log-softmax of the raw logits.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=600):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


class Peer:
    def __init__(self, server, model, workdir, ctx, extra=()):
        self.sock = os.path.join(workdir, "llama-server.sock")
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.log = open(os.path.join(workdir, "llama-server.log"), "w")
        self.proc = subprocess.Popen(
            [server, "-m", model, "--host", self.sock, "-np", "1", "-t", "1", "-c", str(ctx),
             "-fa", "off", "--no-webui", "--no-warmup", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama-server exited ({self.proc.returncode}) before it was "
                                   f"ready; see {self.log.name}")
            try:
                status, _ = self.request("GET", "/health")
                if status == 200:
                    break
            except OSError:
                pass  # the socket is not there yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama-server not ready after 120 s; see {self.log.name}")
            time.sleep(0.05)
        self.n_vocab = None
        self.ascii = None

    def request(self, method, path, body=None):
        c = UnixHTTPConnection(self.sock)
        try:
            c.request(method, path, None if body is None else json.dumps(body),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def post(self, path, body):
        status, data = self.request("POST", path, body)
        if status != 200:
            raise RuntimeError(f"POST {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    # ---- what the tests ask -------------------------------------------------------------

    def generate(self, prompt, n_predict):
        d = self.post("/completion", {
            "prompt": prompt, "n_predict": n_predict, "temperature": 0.0, "top_k": 1,
            "cache_prompt": False, "return_tokens": True})
        return {"content": d["content"], "tokens": d["tokens"], "stop_type": d["stop_type"],
                "tokens_predicted": d["tokens_predicted"]}

    def tokenize(self, text):
        """llama_tokenize(text, add_special=false, parse_special=true), as Mill calls it."""
        return self.post("/tokenize", {"content": text, "add_special": False,
                                       "parse_special": True})["tokens"]

    def vocab_size(self):
        if self.n_vocab is None:
            status, data = self.request("GET", "/v1/models")
            if status != 200:
                raise RuntimeError(f"GET /v1/models: HTTP {status}")
            self.n_vocab = json.loads(data)["data"][0]["meta"]["n_vocab"]
        return self.n_vocab

    def next_logprobs(self, prompt):
        """{token id: log-prob} of the token after prompt (ids, or a multimodal prompt
        object), over the whole vocabulary, and the argmax id (the first of equal maxima). The
        server reports no probabilities for a token whose piece is an incomplete UTF-8 sequence
        (a byte token) or that ends the generation, so the sampler is made to pick a plain
        ASCII token (a logit bias on self.ascii, and ignore_eos); biases act on the sampler's
        candidates only, never on the raw logits the log-probs are computed from."""
        n = self.vocab_size()
        if self.ascii is None:
            self.ascii = self.tokenize("Answer")[-1]
        d = self.post("/completion", {
            "prompt": prompt, "n_predict": 1, "n_probs": n, "temperature": 0.0,
            "cache_prompt": False, "post_sampling_probs": False, "ignore_eos": True,
            "logit_bias": [[self.ascii, 1000.0]]})
        if "completion_probabilities" not in d:
            raise RuntimeError(f"no probabilities came back: {d['content']!r}")
        top = d["completion_probabilities"][0]["top_logprobs"]
        if len(top) != n or len({t["id"] for t in top}) != n:
            raise RuntimeError(f"asked for {n} log-probs, got {len(top)}")
        lp = {t["id"]: t["logprob"] for t in top}
        am = min(lp, key=lambda i: (-lp[i], i))
        return lp, am

    def bos(self):
        """The ids a string prompt starts with when the vocabulary adds BOS ([] otherwise)."""
        with_special = self.post("/tokenize", {"content": "a", "add_special": True})["tokens"]
        without = self.tokenize("a")
        if with_special[len(with_special) - len(without):] != without:
            raise RuntimeError(f"add_special changes more than a prefix: {with_special}")
        return with_special[:len(with_special) - len(without)]

    def loglik(self, context, continuation, n_ctx, bos):
        """lm-eval's loglikelihood: trailing whitespace of the context moves to the
        continuation; context and context + continuation are tokenised separately, the
        continuation being what the whole adds past the context's tokens (_encode_pair); the
        vocabulary's BOS (if it adds one) in front; then the model sees
        whole[-(n_ctx + 1):][:-1] (_loglikelihood_tokens: the last n_ctx + 1 tokens, left
        truncation) and the continuation's tokens are scored at the end of that window. bos:
        what the vocabulary adds in front (Peer.bos()); an empty context is refused."""
        cut = len(context.rstrip())  # lm-eval: str.rstrip(), Unicode whitespace included
        ctx_ids = self.tokenize(context[:cut])
        whole = self.tokenize(context + continuation)
        n_cont = len(whole) - len(ctx_ids)
        if n_cont <= 0:
            raise RuntimeError(f"continuation {continuation!r} adds no token")
        if not ctx_ids:
            raise RuntimeError("an empty context (lm-eval's prefix token) is not restated here")
        whole = bos + whole
        window = whole[-(n_ctx + 1):]
        lp, greedy = 0.0, True
        for k in range(n_cont):
            pos = len(window) - n_cont + k
            probs, am = self.next_logprobs(window[:pos])
            lp += probs[window[pos]]
            greedy = greedy and am == window[pos]
        return {"logprob": lp, "is_greedy": greedy, "n_cont": n_cont,
                "n_dropped": len(whole) - len(window)}


    def mmscore(self, context, media, choices, n_greedy):
        """See the module's docstring. The prompt goes as {prompt_string, multimodal_data}
        (libmtmd tokenises it: the text after the last image is one chunk, tokenised with
        special tokens parsed and nothing added, as /tokenize does it here)."""
        import base64
        content = "<__media__>" * len(media) + context
        prompt = self.post("/apply-template", {"messages": [{"role": "user",
                                                             "content": content}]})["prompt"]
        data = [base64.b64encode(open(p, "rb").read()).decode() for p in media]
        mm = {"prompt_string": prompt, "multimodal_data": data}
        tail = prompt.rsplit("<__media__>", 1)[-1]
        tail_ids = self.tokenize(tail)
        d = self.post("/completion", {
            "prompt": mm, "n_predict": n_greedy, "n_probs": 1, "temperature": 0.0, "top_k": 1,
            "cache_prompt": False, "post_sampling_probs": False, "return_tokens": True})
        probs = d.get("completion_probabilities", [])
        toks, lps = [], []
        for t, p in zip(d["tokens"], probs):
            if p.get("id") != t or "logprob" not in p:
                break
            toks.append(t)
            lps.append(p["logprob"])
        while toks:
            text = self.post("/detokenize", {"tokens": toks})["content"]
            if self.tokenize(tail + text) == tail_ids + toks:
                break
            toks, lps = toks[:-1], lps[:-1]
        greedy = {"text": self.post("/detokenize", {"tokens": toks})["content"] if toks else "",
                  "tokens": toks, "logprob": sum(lps)}
        first, am = self.next_logprobs(mm)
        out = {}
        for c in choices:
            ids = self.tokenize(tail + c)
            one = len(ids) == len(tail_ids) + 1 and ids[:len(tail_ids)] == tail_ids
            out[c] = {"logprob": first[ids[-1]], "greedy": ids[-1] == am} if one else None
        return {"prompt": prompt, "greedy": greedy, "choices": out}


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    server, model, workdir, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], \
        sys.argv[5:]
    reqs = [json.loads(line) for line in sys.stdin if line.strip()]
    if cmd == "generate":
        ns = [int(a) for a in args]
        peer = Peer(server, model, workdir, 4096)
        try:
            for r in reqs:
                print(json.dumps({"n_predict": {str(n): peer.generate(r["prompt"], n)
                                                for n in ns}}), flush=True)
        finally:
            peer.close()
    elif cmd == "loglik":
        n_ctx = int(args[0])
        peer = Peer(server, model, workdir, 4096)
        try:
            bos = peer.bos()
            for r in reqs:
                print(json.dumps(peer.loglik(r["context"], r["continuation"], n_ctx, bos)),
                      flush=True)
        finally:
            peer.close()
    elif cmd == "mmscore":
        os.environ["LLAMA_MEDIA_MARKER"] = "<__media__>"  # else a random one, per process
        peer = Peer(server, model, workdir, 4096, ("--mmproj", args[0]))
        try:
            for r in reqs:
                print(json.dumps(peer.mmscore(r["context"], r["media"], r["choices"],
                                              r["n_greedy"])), flush=True)
        finally:
            peer.close()
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
