/* jinja_impl.h: what the Jinja parser (jinja.c) shares with its evaluator (jinja_run.c): the
 * arena both allocate from, the syntax tree and the runtime values. Internal to libmill.
 *
 * Errors inside the parser and the evaluator unwind with longjmp to the public entry point,
 * which owns every allocation through an arena, so nothing leaks; the public functions return
 * codes as everywhere else. */
#ifndef MILL_CORE_JINJA_IMPL_H
#define MILL_CORE_JINJA_IMPL_H

#include <mill/buf.h>
#include <mill/value.h>

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena: bump allocation in blocks, freed at once ---- */

struct jblock;
struct jarena {
    struct jblock *head;
    size_t total, limit; /* bytes allocated so far; most allowed */
    jmp_buf *fail;       /* where an allocation failure jumps (with MILL_ENOMEM) */
    struct mill_err *err;
};

void *mill_jalloc(struct jarena *a, size_t n); /* zeroed; never NULL (jumps instead) */
char *mill_jstrdup(struct jarena *a, const char *s, size_t n);
void mill_jarena_free(struct jarena *a);

/* ---- runtime values ---- */

enum jkind { J_UNDEF, J_NONE, J_BOOL, J_INT, J_FLOAT, J_STR, J_LIST, J_DICT, J_FUNC, J_MACRO };

struct jlist;
struct jdict;
struct jfunc;
struct jnode;
struct jmacro;

struct jv {
    enum jkind k;
    bool safe; /* STR: a Markup (|safe, |escape): + escapes the plain str it meets */
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p; /* NUL-terminated */
            size_t n;
        } s;
        struct jlist *l;
        struct jdict *d;
        struct jfunc *fn;
        const struct jmacro *macro; /* its node and the scope it was defined in */
        const char *why; /* UNDEF: what is undefined, for the error of a use that needs it */
    } u;
};

struct jlist {
    struct jv *v;
    size_t n, cap;
    bool tuple; /* printed as (a, b) */
    bool lazy;  /* a generator (map, select, ...): always true, read once, no len or index */
    bool spent; /* lazy and read */
    bool group; /* a tuple from groupby: .grouper and .list are its items */
};

struct jdict {
    struct jv *key, *val;
    size_t n, cap;
    bool ns; /* a namespace(): attributes may be set */
};

/* ---- syntax tree ---- */

enum jnk {
    /* statements */
    JN_TEXT,
    JN_OUT,
    JN_IF,
    JN_FOR,
    JN_SET,
    JN_SETBLOCK,
    JN_MACRO,
    JN_BREAK,
    JN_CONTINUE,
    JN_BLOCK, /* generation: its body as is */
    /* expressions */
    JN_CONST,
    JN_NAME,
    JN_ATTR,
    JN_ITEM,
    JN_SLICE,
    JN_CALL,
    JN_FILTER,
    JN_TEST,
    JN_NEG,
    JN_POS,
    JN_NOT,
    JN_BIN,
    JN_AND,
    JN_OR,
    JN_COND,
    JN_LIST,
    JN_TUPLE,
    JN_DICT,
};

/* Binary operators (JN_BIN's op). */
enum jop {
    JO_ADD,
    JO_SUB,
    JO_MUL,
    JO_DIV,
    JO_FLOORDIV,
    JO_MOD,
    JO_POW,
    JO_CAT,
    JO_EQ,
    JO_NE,
    JO_LT,
    JO_LE,
    JO_GT,
    JO_GE,
    JO_IN,
    JO_NOTIN,
};

struct jnodes {
    struct jnode **v;
    size_t n, cap;
};

/* One node. Which fields a kind uses:
 *   TEXT s; OUT a; IF a (cond), body, orelse (an elif is an IF alone in orelse);
 *   FOR names (targets), a (iterable), b (filter or NULL), body, orelse;
 *   SET names[0] (and s: the attribute for ns.attr = ...), a; SETBLOCK names[0], body;
 *   MACRO s (name), names (parameters), args (their defaults, NULL where none), body;
 *   BLOCK body;
 *   CONST cst; NAME s; ATTR a, s; ITEM a, b; SLICE a, b, c, d (start, stop, step: NULL if absent);
 *   CALL a (callee), args, kwn/kwv; FILTER a (value), s (name), args, kwn/kwv;
 *   TEST a, s, args, op (1: negated); NEG/POS/NOT a; BIN op, a, b; AND/OR a, b;
 *   COND a (then), b (condition), c (else or NULL); LIST/TUPLE args; DICT args (keys), kwv. */
struct jnode {
    enum jnk k;
    int line, op;
    const char *s;
    size_t sn;
    struct jv cst;
    struct jnode *a, *b, *c, *d;
    struct jnodes args, kwv, body, orelse;
    const char **kwn, **names;
    size_t n_names;
    bool unknown; /* FILTER, TEST: a name no Jinja has (an error if the render reaches it) */
};

/* Renders the statements of a parsed template (jinja_run.c). */
int mill_jinja_run(const struct jnodes *body, const struct mill_value *vars, struct mill_buf *out,
                   struct mill_err *err);

#endif
