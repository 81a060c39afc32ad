/* ls_tui.c: the interactive `mill ls` browser (BEHAVIOUR.md §1.5): two tabs, a fuzzy filter, a list and
 * a detail panel, drawn with termios raw mode and ANSI escapes only. It only reads the registry;
 * it must not use ncurses, and must never leave the terminal in raw mode or on the alternate
 * screen, whatever the exit path (keys, SIGINT/SIGTERM/SIGHUP, read errors). */
#include "cli/ls_tui.h"

#include "eval/registry.h"

#include <mill/buf.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum { TAB_BENCH, TAB_TASKS, N_TABS };

/* Keys above the byte range. */
enum {
    K_NONE = -1,
    K_UP = 0x100,
    K_DOWN,
    K_LEFT,
    K_RIGHT,
    K_SUP,
    K_SDOWN,
    K_BTAB,
    K_PGUP,
    K_PGDN,
    K_HOME,
    K_END,
    K_ESC,
    K_WAKE,
    K_QUIT,
};

#define ESC_TIMEOUT_MS 40
#define FILTER_MAX 128
#define LABEL_W 17

static const char *const tab_names[N_TABS] = {"Benchmarks", "Tasks"};
static const int sig_nums[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH};
#define N_SIGS (sizeof sig_nums / sizeof sig_nums[0])

static volatile sig_atomic_t got_resize;
static volatile sig_atomic_t got_signal;

struct term {
    struct termios saved;
    struct sigaction old[N_SIGS];
    bool active;
};

/* The signal mask to wait with: the handled signals are blocked everywhere but in ppoll(), so
 * one cannot slip in between the flag checks and the wait. */
static sigset_t wait_mask;

struct span {
    size_t off, len;
};

struct ui {
    const struct mill_registry *reg;
    int tab;
    char filter[FILTER_MAX];
    size_t flen;
    size_t *match; /* indices into the tab's registry list */
    size_t n_match;
    size_t sel, top; /* selected row and first visible row of the list */
    size_t dtop;     /* first visible detail line */
    int rows, cols;
    struct mill_buf out;    /* the frame being drawn */
    struct mill_buf detail; /* the selected entry's details, '\n'-separated */
    struct span *lines;     /* detail wrapped to the panel width */
    size_t n_lines, cap_lines;
};

/* ---- terminal ---------------------------------------------------------------------------- */

static void write_all(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void on_signal(int sig) {
    if (sig == SIGWINCH)
        got_resize = 1;
    else
        got_signal = sig;
}

static void install_signals(struct term *t) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a signal must interrupt poll() */
    sigset_t block;
    sigemptyset(&block);
    for (size_t i = 0; i < N_SIGS; i++) {
        sigaction(sig_nums[i], &sa, &t->old[i]);
        sigaddset(&block, sig_nums[i]);
    }
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
}

/* Unblocks first (a pending signal reaches our handler), then puts the old handlers back. */
static void restore_signals(struct term *t) {
    sigprocmask(SIG_SETMASK, &wait_mask, NULL);
    for (size_t i = 0; i < N_SIGS; i++)
        sigaction(sig_nums[i], &t->old[i], NULL);
}

static int term_enter(struct term *t) {
    if (tcgetattr(STDIN_FILENO, &t->saved) != 0)
        return -1;
    struct termios raw = t->saved;
    raw.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
    raw.c_oflag &= ~(tcflag_t)OPOST;
    raw.c_cflag |= CS8;
    raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    install_signals(t);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) {
        int e = errno;
        restore_signals(t);
        errno = e;
        return -1;
    }
    t->active = true;
    static const char enter[] = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
    write_all(enter, sizeof enter - 1);
    return 0;
}

static void term_leave(struct term *t) {
    if (!t->active)
        return;
    static const char leave[] = "\x1b[0m\x1b[?25h\x1b[?1049l";
    write_all(leave, sizeof leave - 1);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
    restore_signals(t);
    t->active = false;
}

static void term_size(struct ui *u) {
    struct winsize ws;
    u->rows = 24;
    u->cols = 80;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        u->rows = ws.ws_row;
        u->cols = ws.ws_col;
    }
}

/* ---- input ------------------------------------------------------------------------------- */

/* One byte, waiting at most timeout_ms (-1: forever). -1 on timeout, K_WAKE on a signal,
 * K_QUIT on end of input or an error. */
static int read_byte(int timeout_ms) {
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    int r = ppoll(&p, 1, timeout_ms < 0 ? NULL : &ts, &wait_mask);
    if (r < 0)
        return errno == EINTR ? K_WAKE : K_QUIT;
    if (r == 0)
        return -1;
    unsigned char c;
    ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return K_WAKE;
    return n == 1 ? c : K_QUIT;
}

/* Maps a CSI/SS3 sequence (without ESC and its introducer) to a key. */
static int decode_seq(const char *seq, size_t n) {
    char fin = n ? seq[n - 1] : 0;
    bool shift = n >= 4 && seq[n - 2] == '2' && seq[n - 3] == ';';
    switch (fin) {
    case 'A': return shift ? K_SUP : K_UP;
    case 'B': return shift ? K_SDOWN : K_DOWN;
    case 'C': return K_RIGHT;
    case 'D': return K_LEFT;
    case 'Z': return K_BTAB;
    case 'H': return K_HOME;
    case 'F': return K_END;
    case 'a': return K_SUP; /* rxvt shift+up */
    case 'b': return K_SDOWN;
    case '~': break;
    default: return K_NONE;
    }
    if (n >= 2 && (seq[0] == '1' || seq[0] == '7') && seq[1] == '~')
        return K_HOME;
    if (n >= 2 && (seq[0] == '4' || seq[0] == '8') && seq[1] == '~')
        return K_END;
    if (n >= 2 && seq[0] == '5')
        return K_PGUP;
    return n >= 2 && seq[0] == '6' ? K_PGDN : K_NONE;
}

/* After an ESC: a lone ESC when nothing follows quickly, else an escape sequence. */
static int read_escape(void) {
    int c = read_byte(ESC_TIMEOUT_MS);
    if (c == -1)
        return K_ESC;
    if (c == K_WAKE || c == K_QUIT)
        return c;
    if (c != '[' && c != 'O')
        return K_NONE; /* Alt+key: ignored */
    char seq[16];
    size_t n = 0;
    while (n < sizeof seq) {
        int d = read_byte(ESC_TIMEOUT_MS);
        if (d < 0 || d > 0xff)
            return d == K_QUIT ? K_QUIT : K_NONE;
        seq[n++] = (char)d;
        if (d >= 0x40 && d <= 0x7e)
            return decode_seq(seq, n);
    }
    return K_NONE;
}

static int read_key(void) {
    int c = read_byte(-1);
    if (c == 0x1b)
        return read_escape();
    return c < 0 ? K_NONE : c;
}

/* ---- model ------------------------------------------------------------------------------- */

static size_t tab_len(const struct ui *u, int tab) {
    return tab == TAB_BENCH ? mill_registry_n_benchmarks(u->reg) : mill_registry_n_tasks(u->reg);
}

static const char *tab_name_at(const struct ui *u, int tab, size_t i) {
    if (tab == TAB_BENCH)
        return mill_registry_benchmark_at(u->reg, i)->name;
    return mill_registry_task_at(u->reg, i)->name;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

/* Python Mill's fuzzy filter: every character of pat appears in s, in order (case-insensitive,
 * each at its first place after the previous one); *score is the span from the first matched
 * character to the last, less 100 when the first is s's first. */
static bool fuzzy_match(const char *pat, const char *s, int *score) {
    const char *first = NULL, *last = s;
    for (const char *t = s; *pat; pat++, t++) {
        while (*t && lower((unsigned char)*t) != lower((unsigned char)*pat))
            t++;
        if (!*t)
            return false;
        first = first ? first : t;
        last = t;
    }
    *score = first ? (int)(last - first) - (first == s ? 100 : 0) : 0;
    return true;
}

struct ranked {
    int score;
    const char *name;
    size_t index;
};

static int cmp_ranked(const void *a, const void *b) {
    const struct ranked *x = a, *y = b;
    return x->score != y->score ? (x->score > y->score) - (x->score < y->score)
                                : strcmp(x->name, y->name);
}

/* The names matching the filter, best first as Python Mill ranks them (score, then name); all
 * names in registry order when the filter is empty. */
static void refilter(struct ui *u) {
    size_t n = tab_len(u, u->tab);
    struct ranked *r = malloc((n ? n : 1) * sizeof *r);
    u->n_match = 0;
    for (size_t i = 0; r && i < n; i++) {
        const char *name = tab_name_at(u, u->tab, i);
        int score;
        if (fuzzy_match(u->filter, name, &score))
            r[u->n_match++] = (struct ranked){score, name, i};
    }
    if (r && *u->filter)
        qsort(r, u->n_match, sizeof *r, cmp_ranked);
    for (size_t k = 0; r && k < u->n_match; k++)
        u->match[k] = r[k].index;
    if (!r)
        u->n_match = 0;
    free(r);
    u->sel = u->top = u->dtop = 0;
}

static const char *selected_name(const struct ui *u) {
    return u->n_match ? tab_name_at(u, u->tab, u->match[u->sel]) : NULL;
}

/* ---- details ----------------------------------------------------------------------------- */

/* Appends s with control characters escaped, so a value never breaks the layout. */
static void add_escaped(struct mill_buf *b, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n')
            mill_buf_adds(b, "\\n");
        else if (c == '\t')
            mill_buf_adds(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            mill_buf_addf(b, "\\x%02x", c);
        else
            mill_buf_addc(b, (char)c);
    }
}

static void field(struct mill_buf *b, const char *label, const char *value) {
    mill_buf_addf(b, "%-*s", LABEL_W, label);
    add_escaped(b, value && *value ? value : "-");
    mill_buf_addc(b, '\n');
}

static void field_list(struct mill_buf *b, const char *label, const char *const *v, bool quote) {
    mill_buf_addf(b, "%-*s", LABEL_W, label);
    if (!v || !v[0])
        mill_buf_addc(b, '-');
    for (size_t i = 0; v && v[i]; i++) {
        mill_buf_adds(b, i ? ", " : "");
        mill_buf_adds(b, quote ? "\"" : "");
        add_escaped(b, v[i]);
        mill_buf_adds(b, quote ? "\"" : "");
    }
    mill_buf_addc(b, '\n');
}

static void field_metrics(struct ui *u, const char *const *v) {
    struct mill_buf *b = &u->detail;
    mill_buf_addf(b, "%-*s", LABEL_W, "Metrics");
    if (!v || !v[0])
        mill_buf_addc(b, '-');
    for (size_t i = 0; v && v[i]; i++) {
        const struct mill_metric *m = mill_registry_metric(u->reg, v[i]);
        mill_buf_adds(b, i ? ", " : "");
        add_escaped(b, v[i]);
        if (m)
            mill_buf_adds(b, m->higher_is_better ? " (\xe2\x86\x91)" : " (\xe2\x86\x93)");
    }
    mill_buf_addc(b, '\n');
}

static void task_data_fields(struct mill_buf *b, const struct mill_task_config *t) {
    bool hub = t->hf_repo && *t->hf_repo;
    field(b, "HF dataset", hub ? t->hf_repo : "(local files)");
    field(b, "HF subset", t->hf_subset);
    if (t->hf_revision && *t->hf_revision)
        field(b, "HF revision", t->hf_revision);
    if (t->approx_num_samples > 0)
        mill_buf_addf(b, "%-*s%lld\n", LABEL_W, "Approx samples", (long long)t->approx_num_samples);
    else
        field(b, "Approx samples", NULL);
}

static void task_details(struct ui *u, const struct mill_task_config *t) {
    struct mill_buf *b = &u->detail;
    static const char *const test_only[] = {"test", NULL};
    const char *const *splits =
        t->evaluation_splits && t->evaluation_splits[0] ? t->evaluation_splits : test_only;
    /* Python Mill's panel: how a response is scored, and the generation settings, only for
     * the generative task types; the few-shot split only when the task names one */
    enum mill_task_type type = mill_task_effective_type(t);
    bool generative = type == MILL_TASK_GENERATIVE_QA || type == MILL_TASK_MULTIPLE_CHOICE ||
                      type == MILL_TASK_PERPLEXITY;
    field(b, "Task type", mill_task_type_str(type));
    if (generative)
        field(b, "Scoring", mill_output_type_str(t->output_type));
    field_list(b, "Splits", splits, false);
    if (t->few_shots_split)
        field(b, "Few-shot split", t->few_shots_split);
    mill_buf_addf(b, "%-*s%d\n", LABEL_W, "Default n-shot", t->n_shots);
    bool generates = generative && t->output_type == MILL_OUT_GENERATIVE;
    if (generates)
        mill_buf_addf(b, "%-*s%d\n", LABEL_W, "Max new tokens",
                      t->generation_size > 0 ? t->generation_size : 256);
    if (generates && t->stop_sequences && t->stop_sequences[0])
        field_list(b, "Stop sequences", t->stop_sequences, true);
    task_data_fields(b, t);
    field_list(b, "Categories", t->categories, false);
    field_list(b, "Capabilities", t->capabilities, false);
    field_metrics(u, t->metrics);
    field(b, "Paper", t->paper_url);
    if (t->hf_repo && *t->hf_repo) {
        mill_buf_addf(b, "%-*shttps://huggingface.co/datasets/", LABEL_W, "HF URL");
        add_escaped(b, t->hf_repo);
        mill_buf_addc(b, '\n');
    }
    const struct mill_benchmark_config *parent = mill_registry_parent(u->reg, t->name);
    if (parent)
        field(b, "Benchmark", parent->name);
}

static void bench_details(struct ui *u, const struct mill_benchmark_config *x) {
    struct mill_buf *b = &u->detail;
    field_metrics(u, x->metric_names);
    field(b, "Aggregation", x->weighted_aggregate ? "weighted" : "unweighted mean");
    if (x->pick_variant_by_model)
        field(b, "Variant", "picked by the model's backend");
    field_list(b, "Categories", x->categories, false);
    field_list(b, "Capabilities", x->capabilities, false);
    field(b, "Paper", x->paper_url);
    mill_buf_addf(b, "Tasks (%zu)\n", mill_strv_len(x->task_names));
    for (size_t i = 0; x->task_names && x->task_names[i]; i++) {
        mill_buf_adds(b, "  ");
        add_escaped(b, x->task_names[i]);
        mill_buf_addc(b, '\n');
    }
}

static void build_details(struct ui *u) {
    mill_buf_reset(&u->detail);
    if (!u->n_match)
        return;
    size_t i = u->match[u->sel];
    const char *desc;
    if (u->tab == TAB_BENCH) {
        const struct mill_benchmark_config *x = mill_registry_benchmark_at(u->reg, i);
        add_escaped(&u->detail, x->name);
        desc = x->description;
    } else {
        const struct mill_task_config *t = mill_registry_task_at(u->reg, i);
        add_escaped(&u->detail, t->name);
        desc = t->description;
    }
    mill_buf_addc(&u->detail, '\n');
    if (desc && *desc) {
        add_escaped(&u->detail, desc);
        mill_buf_addc(&u->detail, '\n');
    }
    mill_buf_addc(&u->detail, '\n');
    if (u->tab == TAB_BENCH)
        bench_details(u, mill_registry_benchmark_at(u->reg, i));
    else
        task_details(u, mill_registry_task_at(u->reg, i));
}

/* ---- layout helpers ---------------------------------------------------------------------- */

static bool is_cont(unsigned char c) { return (c & 0xc0) == 0x80; }

/* Bytes of s[0..n) holding at most width code points. */
static size_t clip_bytes(const char *s, size_t n, size_t width) {
    size_t i = 0, cps = 0;
    while (i < n) {
        if (!is_cont((unsigned char)s[i]) && cps++ == width)
            break;
        i++;
    }
    return i;
}

static size_t count_cps(const char *s, size_t n) {
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        cps += !is_cont((unsigned char)s[i]);
    return cps;
}

/* Appends s[0..n) cut to width code points, a control byte shown as '?' (a plugin's task name
 * could hold an escape sequence); pads with spaces to width when pad. Returns the columns
 * used. */
static size_t put(struct mill_buf *b, const char *s, size_t n, size_t width, bool pad) {
    size_t k = clip_bytes(s, n, width);
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        mill_buf_addc(b, c < 0x20 || c == 0x7f ? '?' : (char)c);
    }
    size_t used = count_cps(s, k);
    for (; pad && used < width; used++)
        mill_buf_addc(b, ' ');
    return used;
}

static size_t puts_w(struct mill_buf *b, const char *s, size_t width) {
    return put(b, s, strlen(s), width, false);
}

static void goto_row(struct mill_buf *b, int row, int col) {
    mill_buf_addf(b, "\x1b[%d;%dH", row, col);
}

static bool add_span(struct ui *u, size_t off, size_t len) {
    if (u->n_lines == u->cap_lines) {
        size_t cap = u->cap_lines ? 2 * u->cap_lines : 64;
        struct span *p = realloc(u->lines, cap * sizeof *p);
        if (!p)
            return false;
        u->lines = p;
        u->cap_lines = cap;
    }
    u->lines[u->n_lines++] = (struct span){off, len};
    return true;
}

/* Bytes of the next wrapped line of s[0..n): cut after the last space that fits, or hard. */
static size_t break_at(const char *s, size_t n, size_t width) {
    size_t k = clip_bytes(s, n, width);
    if (k == n)
        return k;
    for (size_t i = k; i > 0; i--)
        if (s[i - 1] == ' ')
            return i;
    return k;
}

/* Splits the details into lines of at most width code points. */
static void wrap_details(struct ui *u, size_t width) {
    u->n_lines = 0;
    const char *p = u->detail.p ? u->detail.p : "";
    size_t off = 0, n = u->detail.n;
    while (off < n) {
        const char *nl = memchr(p + off, '\n', n - off);
        size_t end = nl ? (size_t)(nl - p) : n;
        do {
            size_t k = width ? break_at(p + off, end - off, width) : end - off;
            if (!add_span(u, off, k))
                return;
            off += k;
        } while (off < end);
        off = end + 1;
    }
}

/* ---- drawing ----------------------------------------------------------------------------- */

static void draw_tabs(struct ui *u) {
    struct mill_buf *b = &u->out;
    size_t width = (size_t)u->cols, used = 0;
    goto_row(b, 1, 1);
    mill_buf_adds(b, "\x1b[2K");
    for (int t = 0; t < N_TABS && used < width; t++) {
        char label[64];
        snprintf(label, sizeof label, " %s (%zu) ", tab_names[t], tab_len(u, t));
        mill_buf_adds(b, t == u->tab ? "\x1b[7;1m" : "\x1b[2m");
        used += puts_w(b, label, width - used);
        mill_buf_adds(b, "\x1b[0m");
        if (used < width)
            used += puts_w(b, " ", width - used);
    }
}

static void draw_filter(struct ui *u) {
    struct mill_buf *b = &u->out;
    size_t width = (size_t)u->cols;
    goto_row(b, 2, 1);
    mill_buf_adds(b, "\x1b[2K");
    size_t used = puts_w(b, "Filter: ", width);
    used += put(b, u->filter, u->flen, width - used, false);
    char count[48];
    snprintf(count, sizeof count, "%zu/%zu", u->n_match, tab_len(u, u->tab));
    size_t cn = strlen(count);
    if (used + cn + 2 <= width) {
        goto_row(b, 2, (int)(width - cn + 1));
        mill_buf_adds(b, count);
    }
}

static void draw_rule(struct mill_buf *b, int row, size_t width, size_t split) {
    goto_row(b, row, 1);
    mill_buf_adds(b, "\x1b[2K\x1b[2m");
    for (size_t i = 0; i < width; i++)
        mill_buf_adds(b, split && i == split ? "\xe2\x94\xac" : "\xe2\x94\x80");
    mill_buf_adds(b, "\x1b[0m");
}

static void draw_list_row(struct ui *u, size_t i, size_t width) {
    struct mill_buf *b = &u->out;
    if (i >= u->n_match) {
        const char *msg = i == 0 ? " (no match)" : "";
        mill_buf_adds(b, "\x1b[2m");
        put(b, msg, strlen(msg), width, true);
        mill_buf_adds(b, "\x1b[0m");
        return;
    }
    const char *name = tab_name_at(u, u->tab, u->match[i]);
    mill_buf_adds(b, i == u->sel ? "\x1b[7m" : "");
    size_t used = put(b, " ", 1, width, false);
    put(b, name, strlen(name), width - used, true);
    mill_buf_adds(b, "\x1b[0m");
}

static void draw_detail_row(struct ui *u, size_t line, size_t width) {
    if (line >= u->n_lines)
        return;
    const struct span *s = &u->lines[line];
    bool title = s->off == 0;
    mill_buf_adds(&u->out, title ? "\x1b[1m " : " ");
    put(&u->out, u->detail.p + s->off, s->len, width, false);
    mill_buf_adds(&u->out, "\x1b[0m");
}

static void draw_footer(struct ui *u, int row) {
    static const char help[] =
        " \xe2\x86\x91/\xe2\x86\x93 move  Tab/\xe2\x86\x90/\xe2\x86\x92 switch  "
        "Shift+\xe2\x86\x91/\xe2\x86\x93 scroll details  Enter copy name  Esc quit";
    goto_row(&u->out, row, 1);
    mill_buf_adds(&u->out, "\x1b[2K\x1b[2m");
    puts_w(&u->out, help, (size_t)u->cols);
    mill_buf_adds(&u->out, "\x1b[0m");
}

/* Keeps the selection visible and the detail scroll in range. */
static void clamp_scroll(struct ui *u, size_t list_h) {
    if (u->sel < u->top)
        u->top = u->sel;
    if (list_h && u->sel >= u->top + list_h)
        u->top = u->sel - list_h + 1;
    size_t max_dtop = u->n_lines > list_h ? u->n_lines - list_h : 0;
    if (u->dtop > max_dtop)
        u->dtop = max_dtop;
}

static size_t list_width(const struct ui *u) {
    size_t w = (size_t)u->cols * 2 / 5;
    if (w > 48)
        w = 48;
    return u->cols < 40 ? (size_t)u->cols : w;
}

static void draw_body(struct ui *u, size_t list_h) {
    size_t lw = list_width(u), cols = (size_t)u->cols;
    size_t dw = cols > lw + 2 ? cols - lw - 2 : 0;
    wrap_details(u, dw);
    clamp_scroll(u, list_h);
    for (size_t r = 0; r < list_h; r++) {
        goto_row(&u->out, (int)r + 4, 1);
        mill_buf_adds(&u->out, "\x1b[2K");
        draw_list_row(u, u->top + r, lw);
        if (lw >= cols)
            continue;
        mill_buf_adds(&u->out, "\x1b[2m\xe2\x94\x82\x1b[0m");
        draw_detail_row(u, u->dtop + r, dw);
    }
}

static void draw(struct ui *u) {
    mill_buf_reset(&u->out);
    mill_buf_adds(&u->out, "\x1b[H");
    if (u->rows < 5 || u->cols < 12) {
        mill_buf_adds(&u->out, "\x1b[2J");
        puts_w(&u->out, "terminal too small", (size_t)u->cols);
    } else {
        size_t list_h = (size_t)u->rows - 4;
        draw_tabs(u);
        draw_filter(u);
        draw_rule(&u->out, 3, (size_t)u->cols, list_width(u) < (size_t)u->cols ? list_width(u) : 0);
        draw_body(u, list_h);
        draw_footer(u, u->rows);
    }
    if (u->out.p)
        write_all(u->out.p, u->out.n);
}

/* ---- key handling ------------------------------------------------------------------------ */

static void switch_tab(struct ui *u, int delta) {
    u->tab = (u->tab + N_TABS + delta) % N_TABS;
    refilter(u);
    build_details(u);
}

static void move_sel(struct ui *u, long delta) {
    if (!u->n_match)
        return;
    long s = (long)u->sel + delta;
    if (s < 0)
        s = 0;
    if (s >= (long)u->n_match)
        s = (long)u->n_match - 1;
    if ((size_t)s != u->sel) {
        u->sel = (size_t)s;
        u->dtop = 0;
        build_details(u);
    }
}

static void edit_filter(struct ui *u, int c) {
    if (c == 0x7f || c == 0x08) {
        if (!u->flen)
            return;
        while (u->flen > 0 && is_cont((unsigned char)u->filter[u->flen - 1]))
            u->flen--;
        u->flen -= u->flen > 0;
    } else if (c == 0x15) {
        u->flen = 0; /* Ctrl+U */
    } else if (u->flen + 1 < sizeof u->filter) {
        u->filter[u->flen++] = (char)c;
    }
    u->filter[u->flen] = 0;
    refilter(u);
    build_details(u);
}

/* Returns 1 when Enter chose an entry, -1 to quit, 0 to go on. */
static int handle_key(struct ui *u, int k) {
    long page = u->rows > 5 ? u->rows - 5 : 1;
    switch (k) {
    case K_UP: move_sel(u, -1); break;
    case K_DOWN: move_sel(u, 1); break;
    case K_PGUP: move_sel(u, -page); break;
    case K_PGDN: move_sel(u, page); break;
    case K_HOME: move_sel(u, -(long)u->n_match); break;
    case K_END: move_sel(u, (long)u->n_match); break;
    case '\t':
    case K_RIGHT: switch_tab(u, 1); break;
    case K_BTAB:
    case K_LEFT: switch_tab(u, -1); break;
    case K_SUP: u->dtop -= u->dtop > 0; break;
    case K_SDOWN: u->dtop++; break;
    case '\r':
    case '\n': return u->n_match ? 1 : 0;
    case K_ESC:
    case 0x03:
    case 0x04:
    case K_QUIT: return -1;
    default:
        if (k == 0x7f || k == 0x08 || k == 0x15 || (k >= 0x20 && k <= 0xff))
            edit_filter(u, k);
    }
    return 0;
}

/* ---- clipboard --------------------------------------------------------------------------- */

static bool on_path(const char *tool, char *full, size_t cap) {
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        /* An empty PATH entry is the current directory. */
        int w = snprintf(full, cap, "%.*s/%s", n ? (int)n : 1, n ? path : ".", tool);
        if (w > 0 && (size_t)w < cap && access(full, X_OK) == 0)
            return true;
        path = colon ? colon + 1 : NULL;
    }
    return false;
}

static void child_exec(int in_fd, const char *full, char *const argv[]) {
    sigprocmask(SIG_SETMASK, &wait_mask, NULL); /* a mask survives exec: xclip must die to kill */
    dup2(in_fd, STDIN_FILENO);
    close(in_fd);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    execv(full, argv);
    _exit(127);
}

/* Pipes text into the tool; true when it exits with status 0. */
static bool pipe_to(const char *full, char *const argv[], const char *text) {
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        child_exec(fds[0], full, argv);
    }
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        return false;
    }
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    size_t n = strlen(text);
    bool ok = write(fds[1], text, n) == (ssize_t)n;
    close(fds[1]);
    sigaction(SIGPIPE, &old, NULL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Copies text with the first clipboard tool found on PATH. */
static bool copy_to_clipboard(const char *text) {
    static char *const xclip[] = {"xclip", "-selection", "clipboard", NULL};
    static char *const xsel[] = {"xsel", "--clipboard", "--input", NULL};
    static char *const pbcopy[] = {"pbcopy", NULL};
    static char *const *const tools[] = {xclip, xsel, pbcopy};
    char full[4096];
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        if (on_path(tools[i][0], full, sizeof full))
            return pipe_to(full, tools[i], text);
    return false;
}

/* ---- main loop --------------------------------------------------------------------------- */

/* Returns 1 (Enter), -1 (quit) or 1000 + the number of a terminating signal. */
static int run_loop(struct ui *u) {
    draw(u);
    for (;;) {
        int k = read_key();
        if (got_signal)
            return 1000 + (int)got_signal;
        if (got_resize) {
            got_resize = 0;
            term_size(u);
        }
        int r = k == K_NONE || k == K_WAKE ? 0 : handle_key(u, k);
        if (r)
            return r;
        draw(u);
    }
}

static int finish(int r, const char *name) {
    if (r > 1000)
        return 128 + (r - 1000);
    if (r != 1 || !name)
        return 0;
    bool copied = copy_to_clipboard(name);
    printf("%s: %s\n", copied ? "Copied" : "Selected", name);
    fflush(stdout);
    return 0;
}

int mill_ls_tui(const struct mill_registry *reg) {
    struct ui u = {.reg = reg, .tab = TAB_BENCH};
    size_t cap = mill_registry_n_tasks(reg) + mill_registry_n_benchmarks(reg) + 1;
    u.match = calloc(cap, sizeof *u.match);
    if (!u.match)
        return 1;
    struct term t = {0};
    got_signal = got_resize = 0;
    fflush(stdout);
    if (term_enter(&t) != 0) {
        free(u.match);
        fprintf(stderr, "mill ls: cannot set up the terminal: %s\n", strerror(errno));
        return 1;
    }
    term_size(&u);
    refilter(&u);
    build_details(&u);
    int r = run_loop(&u);
    term_leave(&t);
    const char *name = r == 1 ? selected_name(&u) : NULL;
    int rc = finish(r, name);
    mill_buf_free(&u.out);
    mill_buf_free(&u.detail);
    free(u.lines);
    free(u.match);
    return rc;
}
