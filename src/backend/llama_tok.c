/* llama_tok.c: lm-eval's (context, continuation) tokenisation from pieces (llama_tok.h).
 *
 * Why a split at a line start S (text[S-1] == '\n', text[S] a printable ASCII character) can
 * be safe: llama.cpp's pre-tokenizers (GPT-2, Llama 3, Qwen2 and their kin) never put a newline
 * and a following non-space character in one piece, and when no token of the vocabulary holds
 * a newline followed by a printable character (checked at creation), neither BPE nor SentencePiece
 * merges can join them. What can still differ is how the text around S splits when one side is
 * cut off (a newline run at the end of a text is one pre-token, "\n\n" inside "…\n\nThe" two),
 * so each split is checked on its window: from the start of the previous non-empty line to the
 * end of the text or of the next line, tokenised whole and as two pieces. The right piece is
 * tokenised with the newline before S and that newline's tokens dropped, so SentencePiece's
 * space prefix does not appear at S. A window that passes once passes again: verified windows
 * are remembered by hash. */
#include "backend/llama_tok.h"

#include "core/log.h"
#include "core/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_PREFIX 256 /* bytes: a shorter shared prefix is not worth a cache entry */

struct tvec {
    llama_token *t;
    int n, cap;
};

struct mill_tok {
    const struct llama_vocab *vocab;
    bool fast;
    struct mill_tok_stats st;
    struct tvec nl; /* tok("\n") */
    char *pfx;      /* the shared prefix (ends at a line start), or NULL */
    size_t n_pfx;
    struct tvec pfx_tok; /* tok(pfx) */
    char *prev;          /* the previous context, to find the next shared prefix */
    size_t n_prev;
    char *ctx; /* the current context */
    size_t n_ctx;
    bool ctx_fast;    /* its continuations are tokenised from pieces */
    struct tvec head; /* tok(ctx[0, split)) */
    size_t split;     /* the start of the context's last line */
    int n_ce;         /* the count of tok(rstrip(ctx)) */
    uint64_t *seen;   /* hashes of verified windows (open addressing, 0 = empty) */
    size_t cap_seen, n_seen;
};

/* ---- token vectors -------------------------------------------------------------------- */

static int tv_add(struct tvec *v, const llama_token *t, int n) {
    if (v->n + n > v->cap) {
        int cap = v->cap ? v->cap : 256;
        while (cap < v->n + n)
            cap *= 2;
        llama_token *g = realloc(v->t, (size_t)cap * sizeof *g);
        if (!g)
            return MILL_ENOMEM;
        v->t = g;
        v->cap = cap;
    }
    if (n)
        memcpy(v->t + v->n, t, (size_t)n * sizeof *t);
    v->n += n;
    return 0;
}

static bool tv_eq(const llama_token *a, int na, const llama_token *b, int nb) {
    return na == nb && (!na || !memcmp(a, b, (size_t)na * sizeof *a));
}

static int tv_reserve(struct tvec *v, int room) {
    if (v->n + room <= v->cap)
        return 0;
    llama_token *g = realloc(v->t, (size_t)(v->n + room) * sizeof *g);
    if (!g)
        return MILL_ENOMEM;
    v->t = g;
    v->cap = v->n + room;
    return 0;
}

/* Appends tok(s[0..n)) to out. */
static int tok_into(struct mill_tok *t, const char *s, size_t n, struct tvec *out,
                    struct mill_err *err) {
    if (n > INT32_MAX / 2)
        return mill_err_set(err, MILL_EINVAL, "text too long to tokenise (%zu bytes)", n);
    double t0 = mill_clock_s();
    int room = (int)n + 8, got = -1;
    for (int tries = 0; tries < 2 && got < 0; tries++) {
        if (tv_reserve(out, room))
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        got = llama_tokenize(t->vocab, s, (int32_t)n, out->t + out->n, room, false, true);
        room = got < 0 ? -got : room;
    }
    t->st.seconds += mill_clock_s() - t0;
    t->st.bytes += (long long)n;
    if (got < 0)
        return mill_err_set(err, MILL_EBACKEND, "tokenisation failed");
    out->n += got;
    return 0;
}

/* Appends the tokens of text[s, e) as they follow a newline at text[s - 1]: tok(text[s-1, e))
 * less tok("\n"). *ok = false when that does not start with tok("\n"). */
static int tok_right(struct mill_tok *t, const char *text, size_t s, size_t e, struct tvec *out,
                     bool *ok, struct mill_err *err) {
    int at = out->n;
    int rc = tok_into(t, text + s - 1, e - s + 1, out, err);
    *ok = !rc && out->n - at >= t->nl.n && tv_eq(out->t + at, t->nl.n, t->nl.t, t->nl.n);
    if (!rc && *ok) {
        memmove(out->t + at, out->t + at + t->nl.n,
                (size_t)(out->n - at - t->nl.n) * sizeof *out->t);
        out->n -= t->nl.n;
    }
    return rc;
}

/* ---- splits ---------------------------------------------------------------------------- */

static bool printable(char c) { return c > ' ' && c < 0x7f; }

/* s is a line start a split may use: after a newline, before a printable ASCII character. */
static bool line_start(const char *text, size_t n, size_t s) {
    return s > 0 && s < n && text[s - 1] == '\n' && printable(text[s]);
}

static uint64_t fnv(const char *s, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h ? h : 1;
}

static bool seen_has(const struct mill_tok *t, uint64_t h) {
    for (size_t i = h % (t->cap_seen ? t->cap_seen : 1); t->cap_seen && t->seen[i];
         i = (i + 1) % t->cap_seen)
        if (t->seen[i] == h)
            return true;
    return false;
}

static void seen_add(struct mill_tok *t, uint64_t h) {
    if (2 * (t->n_seen + 1) > t->cap_seen) {
        size_t cap = t->cap_seen ? t->cap_seen * 2 : 1024;
        uint64_t *g = calloc(cap, sizeof *g);
        if (!g)
            return; /* only a cache */
        for (size_t i = 0; i < t->cap_seen; i++)
            for (size_t j = t->seen[i] % cap; t->seen[i]; j = (j + 1) % cap)
                if (!g[j]) {
                    g[j] = t->seen[i];
                    break;
                }
        free(t->seen);
        t->seen = g;
        t->cap_seen = cap;
    }
    size_t j = h % t->cap_seen;
    while (t->seen[j])
        j = (j + 1) % t->cap_seen;
    t->seen[j] = h;
    t->n_seen++;
}

/* True when the split at line start s of text[0, e) is safe: the window from the previous
 * non-empty line's start to e tokenises the same whole and as two pieces. */
static int window_ok(struct mill_tok *t, const char *text, size_t s, size_t e, bool *ok,
                     struct mill_err *err) {
    size_t l0 = s - 1;
    while (l0 > 0 && text[l0 - 1] == '\n')
        l0--;
    while (l0 > 0 && text[l0 - 1] != '\n')
        l0--;
    *ok = false;
    if (l0 > 0 && !printable(text[l0]))
        return 0; /* the window must itself start at a safe line start */
    uint64_t h = fnv(text + l0, e - l0, 0xcbf29ce484222325ULL ^ (uint64_t)(s - l0) << 32);
    if (seen_has(t, h)) {
        *ok = true;
        return 0;
    }
    struct tvec whole = {0}, parts = {0};
    bool right = false;
    int rc = tok_into(t, text + l0, e - l0, &whole, err);
    if (!rc)
        rc = tok_into(t, text + l0, s - l0, &parts, err);
    if (!rc)
        rc = tok_right(t, text, s, e, &parts, &right, err);
    *ok = !rc && right && tv_eq(whole.t, whole.n, parts.t, parts.n);
    if (*ok)
        seen_add(t, h);
    free(whole.t);
    free(parts.t);
    return rc;
}

/* The end of the line starting at s and of the newlines after it; 0 when a line follows that
 * does not start a safe split (the window would not end at a boundary). */
static size_t line_end(const char *text, size_t n, size_t s) {
    size_t e = s;
    while (e < n && text[e] != '\n')
        e++;
    while (e < n && text[e] == '\n')
        e++;
    return e == n || printable(text[e]) ? e : 0;
}

/* ---- the context ---------------------------------------------------------------------- */

static int set_text(char **dst, size_t *n_dst, const char *s, size_t n) {
    char *c = malloc(n + 1);
    if (!c)
        return MILL_ENOMEM;
    memcpy(c, s, n);
    c[n] = 0;
    free(*dst);
    *dst = c;
    *n_dst = n;
    return 0;
}

/* A new shared prefix: the common start of ctx and the previous context, cut at its last line
 * start before split; kept when long enough to pay. */
static int new_prefix(struct mill_tok *t, const char *ctx, size_t split, struct mill_err *err) {
    size_t lcp = 0;
    while (t->prev && lcp < t->n_prev && lcp < split && ctx[lcp] == t->prev[lcp])
        lcp++;
    size_t s = lcp;
    while (s > 0 && !(line_start(ctx, split, s)))
        s--;
    if (s < MIN_PREFIX)
        return 0;
    if (set_text(&t->pfx, &t->n_pfx, ctx, s))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    t->pfx_tok.n = 0;
    int rc = tok_into(t, ctx, s, &t->pfx_tok, err);
    if (rc) { /* no prefix without its tokens */
        free(t->pfx);
        t->pfx = NULL;
        t->n_pfx = 0;
    }
    return rc;
}

/* tok(ctx[0, split)) into t->head: the shared prefix's tokens and the rest, or whole. */
static int make_head(struct mill_tok *t, const char *ctx, size_t split, struct mill_err *err) {
    t->head.n = 0;
    bool use = t->pfx && t->n_pfx < split && !memcmp(ctx, t->pfx, t->n_pfx);
    int rc = 0;
    if (!use) {
        rc = new_prefix(t, ctx, split, err);
        use = !rc && t->pfx && t->n_pfx < split && !memcmp(ctx, t->pfx, t->n_pfx);
    }
    size_t e = use ? line_end(ctx, split, t->n_pfx) : 0;
    bool ok = false;
    if (!rc && use && e)
        rc = window_ok(t, ctx, t->n_pfx, e, &ok, err);
    if (!rc && ok && !(rc = tv_add(&t->head, t->pfx_tok.t, t->pfx_tok.n)))
        rc = tok_right(t, ctx, t->n_pfx, split, &t->head, &ok, err);
    if (!rc && !ok) {
        t->head.n = 0;
        rc = tok_into(t, ctx, split, &t->head, err);
    }
    return rc == MILL_ENOMEM ? mill_err_set(err, rc, "out of memory") : rc;
}

/* Prepares a new context: its last line's start (the split), its head and its token count. */
static int new_context(struct mill_tok *t, const char *ctx, size_t n, struct mill_err *err) {
    size_t end = mill_py_rstrip_len(ctx, n), split = end;
    while (split > 0 && ctx[split - 1] != '\n')
        split--;
    if (set_text(&t->ctx, &t->n_ctx, ctx, n))
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    t->ctx_fast = t->fast && line_start(ctx, end, split);
    t->split = split;
    int rc = t->ctx_fast ? make_head(t, ctx, split, err) : 0;
    bool ok = false;
    if (!rc && t->ctx_fast)
        rc = window_ok(t, ctx, split, end, &ok, err);
    struct tvec tail = {0};
    if (!rc && ok)
        rc = tok_right(t, ctx, split, end, &tail, &ok, err);
    t->ctx_fast = ok;
    t->n_ce = t->head.n + tail.n;
    free(tail.t);
    if (!rc && !ok) {
        struct tvec ce = {0};
        rc = tok_into(t, ctx, end, &ce, err);
        t->n_ce = ce.n;
        free(ce.t);
    }
    if (!rc && set_text(&t->prev, &t->n_prev, ctx, n))
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (rc) { /* half made: the next pair with this context makes it again */
        free(t->ctx);
        t->ctx = NULL;
        t->n_ctx = 0;
    }
    return rc;
}

/* ---- the interface -------------------------------------------------------------------- */

/* No token may hold a newline followed by a printable ASCII character, what a split's line
 * starts with (special tokens included; "\n\n", "\n  " and the like are fine). */
static bool piece_holds_line_and_more(const char *piece, int n) {
    for (int i = 0; i + 1 < n; i++)
        if (piece[i] == '\n' && printable(piece[i + 1]))
            return true;
    return false;
}

/* Whether no token of the vocabulary holds a newline followed by more text, read piece by
 * piece; a piece longer than the stack buffer is read whole into the heap (llama_token_to_piece
 * answers minus its length). A piece that cannot be read counts as one that holds more. */
static bool vocab_splits_lines(const struct llama_vocab *v) {
    char piece[512];
    for (llama_token id = 0; id < llama_vocab_n_tokens(v); id++) {
        int n = llama_token_to_piece(v, id, piece, sizeof piece, 0, true);
        if (n >= 0) {
            if (piece_holds_line_and_more(piece, n))
                return false;
            continue;
        }
        char *big = malloc((size_t)-n);
        int m = big ? llama_token_to_piece(v, id, big, -n, 0, true) : -1;
        bool more = m < 0 || piece_holds_line_and_more(big, m);
        free(big);
        if (more)
            return false;
    }
    return true;
}

int mill_tok_new(const struct llama_vocab *vocab, bool fast, struct mill_tok **out,
                 struct mill_err *err) {
    struct mill_tok *t = calloc(1, sizeof *t);
    if (!t)
        return mill_err_set(err, MILL_ENOMEM, "out of memory");
    t->vocab = vocab;
    int rc = tok_into(t, "\n", 1, &t->nl, err);
    t->fast = !rc && fast && t->nl.n > 0 && vocab_splits_lines(vocab);
    if (rc) {
        mill_tok_free(t);
        return rc;
    }
    if (fast && !t->fast)
        MILL_DEBUG("llama", "a token holds a newline and more: contexts are tokenised whole");
    *out = t;
    return 0;
}

void mill_tok_free(struct mill_tok *t) {
    if (!t)
        return;
    free(t->nl.t);
    free(t->pfx);
    free(t->pfx_tok.t);
    free(t->prev);
    free(t->ctx);
    free(t->head.t);
    free(t->seen);
    free(t);
}

int mill_tok_text(struct mill_tok *t, const char *text, size_t n, llama_token **out, int *n_out,
                  struct mill_err *err) {
    struct tvec v = {0};
    int rc = tok_into(t, text, n, &v, err);
    *out = rc ? NULL : v.t;
    *n_out = rc ? 0 : v.n;
    if (rc)
        free(v.t);
    return rc;
}

int mill_tok_pair(struct mill_tok *t, const char *ctx, const char *cont, llama_token **whole,
                  int *n_whole, int *n_ctx, struct mill_err *err) {
    size_t nc = strlen(ctx), nk = strlen(cont);
    *whole = NULL;
    *n_whole = 0;
    int rc = 0;
    if (!t->ctx || t->n_ctx != nc || memcmp(t->ctx, ctx, nc))
        rc = new_context(t, ctx, nc, err);
    char *joined = rc ? NULL : malloc(nc + nk + 1);
    if (!rc && !joined)
        rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
    if (rc)
        return rc;
    memcpy(joined, ctx, nc);
    memcpy(joined + nc, cont, nk + 1);
    struct tvec v = {0};
    bool ok = false;
    if (t->ctx_fast)
        rc = window_ok(t, joined, t->split, nc + nk, &ok, err);
    if (!rc && ok && !(rc = tv_add(&v, t->head.t, t->head.n)))
        rc = tok_right(t, joined, t->split, nc + nk, &v, &ok, err);
    if (!rc && !ok) {
        v.n = 0;
        rc = tok_into(t, joined, nc + nk, &v, err);
    }
    free(joined);
    if (rc) {
        free(v.t);
        return rc == MILL_ENOMEM ? mill_err_set(err, rc, "out of memory") : rc;
    }
    if (ok)
        t->st.fast++;
    else
        t->st.whole++;
    *whole = v.t;
    *n_whole = v.n;
    *n_ctx = t->n_ce;
    return 0;
}

struct mill_tok_stats mill_tok_stats(const struct mill_tok *t) {
    return t->st;
}
