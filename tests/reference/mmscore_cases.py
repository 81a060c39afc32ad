"""mmscore_cases.py: the media log-likelihood cases of tests/cli/test_llama_vision.sh and
tests/cli/test_llama_audio.sh, made from llama-server's answers (llama_server_peer.py mmscore)
and checked against Mill's outputs.

Usage (Debian's /usr/bin/python3, standard library only):
  mmscore_cases.py rows REQS PEER KEY BROKEN > rows.jsonl
      the oracle plugin's rows (oracle_vlm_ll: KEY "images"; oracle_alm_ll: "audios"): per
      request of REQS (the peer's input) its context and media, with as choices the server's
      greedy continuation first (a fresh prefill) and last (the doc's kept one) and the
      one-token choices between; and, halfway, one row whose medium is the file BROKEN, which
      must fail alone (the docs after it start from nothing kept).
  mmscore_cases.py compare ROWS KEY PEER KEPT NAIVE TASK TOL MP3_TOL MIN_G MIN_MULTI MIN_ONE
      Mill's outputs of TASK (on the rows ROWS that `rows` wrote) in the output directories
      KEPT and NAIVE (naive=true) against the server's log-probs, within TOL (MP3_TOL for a
      row whose medium is an MP3: decoders differ) and with the same greedy flags; NAIVE
      within TOL of KEPT; the broken row failed because its file does not decode; at least
      MIN_G rows with a
      greedy continuation, MIN_MULTI of them of several tokens, MIN_ONE one-token choices. Prints one line "same: ..." with the counts and the largest difference
      (exit 0), else the first difference (exit 1).
"""
import glob
import json
import os
import sys


def load(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def want(p):
    """(log-prob, greedy) per choice of a row, as rows() orders them."""
    g = [(p["greedy"]["logprob"], True)] if p["greedy"]["tokens"] else []
    return g + [(v["logprob"], v["greedy"]) for v in p["choices"].values() if v] + g


def rows(reqs, peer, key, broken):
    assert len(reqs) == len(peer) > 1, (len(reqs), len(peer))
    for i, (q, p) in enumerate(zip(reqs, peer)):
        if i == len(peer) // 2:
            print(json.dumps({"context": q["context"], key: [broken], "choices": [" A", " B"],
                              "broken": True}))
        g = [p["greedy"]["text"]] if p["greedy"]["tokens"] else []
        choices = g + [c for c, v in p["choices"].items() if v is not None] + g
        print(json.dumps({"context": q["context"], key: q["media"], "choices": choices}))


def outputs(out, task):
    got = {}
    for path in glob.glob(f"{out}/outputs/*/{task}_0shot.jsonl"):
        for r in load(path):
            got[r["doc_id"]] = r
    return got


def compare(cases, key, peer, kept, naive, task, tol, mp3_tol, least):
    got, nv = outputs(kept, task), outputs(naive, task)
    assert len(cases) == len(peer) + 1, (len(cases), len(peer))
    assert len(got) == len(cases) == len(nv), (len(got), len(nv), len(cases))
    at = [i for i, c in enumerate(cases) if c.get("broken")]
    assert len(at) == 1 and 0 < at[0] < len(peer), at
    broken = os.path.basename(cases[at[0]][key][0]) + " does not decode"
    for r in (got, nv):
        assert broken in r[at[0]].get("error", ""), r[at[0]]
    docs = [i for i in range(len(cases)) if i != at[0]]  # the doc of each peer answer
    worst, n_greedy, n_multi, n_one = 0.0, 0, 0, 0
    for p, i in zip(peer, docs):
        w, g = want(p), got[i]["responses"]
        t = mp3_tol if cases[i][key][0].endswith(".mp3") else tol
        assert len(g) == len(w), (i, g, w)
        for (lp, greedy), (wlp, wgreedy) in zip(g, w):
            worst = max(worst, abs(lp - wlp))
            assert abs(lp - wlp) < t, (i, lp, wlp)
            assert greedy == wgreedy, (i, lp, greedy, wgreedy)
        n = len(p["greedy"]["tokens"])
        n_greedy += n > 0
        n_multi += n > 1
        n_one += len(w) - 2 * (n > 0)
        # naive=true prefills and decodes every choice whole: the same numbers to F16's noise
        # (a choice after the doc's kept text decodes one prompt token, not all)
        assert all(abs(a[0] - b[0]) < t and a[1] == b[1]
                   for a, b in zip(g, nv[i]["responses"])), (i, g, nv[i])
    assert all(a >= b for a, b in zip((n_greedy, n_multi, n_one), least)), \
        ((n_greedy, n_multi, n_one), least)
    print("same: %d greedy continuations (%d of several tokens; each first and last of its "
          "doc), %d one-token choices, naive=true equal, largest difference %.2g, a broken "
          "medium fails alone" % (n_greedy, n_multi, n_one, worst))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "rows" and len(args) == 4:
        rows(load(args[0]), load(args[1]), args[2], args[3])
    elif cmd == "compare" and len(args) == 11:
        compare(load(args[0]), args[1], load(args[2]), *args[3:6], float(args[6]),
                float(args[7]), tuple(int(a) for a in args[8:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
