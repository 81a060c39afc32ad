/* tokenizer.c: the CLIP BPE tokenizer of tokenizer.h, id for id with open_clip's SimpleTokenizer
 * (and with HF's CLIPTokenizer given vocab.json + merges.txt of the same vocabulary): ftfy's
 * fix_text where asked (ftfy.c; open_clip's models), html unescape twice, strip, whitespace
 * collapse, str.lower(), the CLIP pattern on PCRE2 (compiled once per tokenizer), byte-level BPE
 * with "</w>", SOT/EOT, truncation that keeps EOT last.
 *
 * Where it stops short of Python, by design (tests/unit/test_clip_tokenizer.c checks the rest
 * against tests/reference/clip_tokenizer_ref.py, test_ftfy.c ftfy against ftfy's outputs):
 *  - HF checkpoints (mill_clip_tokenizer_use_hf_fast) get CLIPTokenizerFast's normalizer
 *    instead: NFC (libutf8proc's, Unicode 15), every run of White_Space one space, each
 *    character lower-cased alone (no Final_Sigma), no html unescape; the special tokens' text
 *    split out first (tokenizers' added tokens, matched in the normalized text), then its own
 *    case-sensitive Split pattern (PATTERN_FAST), and the same BPE.
 *  - html.unescape: Python's rules exactly (pystr.c).
 *  - str.lower() is Python 3.11's in full (Unicode 14): a generated table of the one-character
 *    mappings, U+0130 -> "i\u0307", and Final_Sigma on PCRE2's \p{Cased} / \p{Case_Ignorable}.
 *    Unicode 15's new letters and digits are added to the pattern by hand (PCRE2 10.42 has
 *    Unicode 14; the reference's `regex`, 15); later Unicode versions are not.
 *  - Invalid UTF-8 is decoded as bytes.decode("utf-8", "replace") does (U+FFFD per maximal
 *    invalid subpart); text stops at its first NUL.
 * Must not print, exit or keep process-wide state. A loaded tokenizer is read-only except for
 * its word cache (bounded, no eviction), which a mutex guards, so threads may share one. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/clip/tokenizer.h"

#include "model/clip/ftfy.h"
#include "model/clip/pystr.h"

#include <mill/buf.h>

#include <errno.h>
#include <pcre2.h>
#include <pthread.h>
#include <utf8proc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define N_MERGES (49152 - 256 - 2) /* merges lines [1, 1 + N_MERGES) are used */
#define SOT_TEXT "<|startoftext|>"
#define EOT_TEXT "<|endoftext|>"
#define MAX_FILE_BYTES ((size_t)256 << 20)
#define MAX_VOCAB_ID (1 << 24)        /* vocab.json ids must lie in [0, MAX_VOCAB_ID) */
#define CACHE_SLOTS ((size_t)1 << 17) /* power of two, open addressing */
#define CACHE_MAX_WORDS (CACHE_SLOTS / 2)
#define CACHE_MAX_WORD_BYTES 64
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The letters (U15_L) and digits (U15_N) Unicode 15 added: Debian 12's PCRE2 10.42 knows
 * Unicode 14, its python3-regex (the reference) Unicode 15. */
#define U15_L                                                                   \
    "\\x{1123F}-\\x{11240}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}" \
    "\\x{1342F}\\x{13441}-\\x{13446}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}"  \
    "\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{2B739}\\x{31350}-\\x{323AF}"
#define U15_N "\\x{11F50}-\\x{11F59}\\x{1D2C0}-\\x{1D2D3}\\x{1E4F0}-\\x{1E4F9}"

/* open_clip's pattern. Python's `regex` with IGNORECASE matches U+0345 (a mark whose case
 * partner is a letter) by none of the classes, so it drops it; PCRE2 needs that spelt out. */
static const char PATTERN[] =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}" U15_L "]+|"
    "[\\p{N}" U15_N "]|[^\\s\\p{L}\\p{N}\\x{345}" U15_L U15_N "]+";
/* CLIPTokenizerFast's Split pattern (transformers' CLIPConverter): case-sensitive, so `'ſ` is
 * no contraction and U+0345 a mark like any other; the special tokens are split out before it
 * (encode_into). */
static const char PATTERN_FAST[] = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}" U15_L "]+|[\\p{N}" U15_N
                                   "]|[^\\s\\p{L}\\p{N}" U15_L U15_N "]+";

struct pair_slot {
    uint64_t key;   /* (left << 32 | right) + 1; 0 = empty */
    uint32_t rank;  /* line index of the merge */
    int32_t merged; /* id of left + right */
};

struct pair_map {
    struct pair_slot *slots;
    size_t mask;
};

struct cache_entry {
    uint64_t hash;
    uint32_t key_len, n_ids;
    int32_t ids[]; /* n_ids ids, then the key_len bytes of the word */
};

struct word_cache {
    pthread_mutex_t lock;
    struct cache_entry **slots; /* CACHE_SLOTS */
    size_t n;
};

struct mill_clip_tokenizer {
    int32_t byte_id[256], byte_end_id[256]; /* one-byte symbols, without and with "</w>" */
    int32_t sot, eot;
    struct pair_map pairs;
    pcre2_code *re;           /* PATTERN */
    pcre2_code *re_fast;      /* PATTERN_FAST */
    pcre2_code *re_cased;     /* \p{Cased}, for str.lower()'s Final_Sigma */
    pcre2_code *re_ignorable; /* \p{Case_Ignorable}, likewise */
    struct mill_ftfy *ftfy;   /* ftfy.fix_text first (open_clip), or NULL */
    bool hf_fast;             /* CLIPTokenizerFast's normalizer instead of open_clip's cleaning */
    struct word_cache *cache;
};

/* ---- UTF-8 ----------------------------------------------------------------------------- */

/* Offset of the first byte of s[0..n) that is not valid UTF-8, or n. */
static size_t utf8_invalid_at(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = mill_pystr_decode_cp((const unsigned char *)s + i, n - i, &cp);
        if (cp == 0xFFFD && (k != 3 || memcmp(s + i, "\xEF\xBF\xBD", 3) != 0))
            return i;
        i += k;
    }
    return n;
}

/* ---- whitespace and lower-casing ------------------------------------------------------- */

/* str.isspace(). */
static bool py_isspace(uint32_t c) {
    return (c >= 0x9 && c <= 0xD) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* `regex`'s \s: White_Space, which is str.isspace() without U+001C..U+001F. */
static bool re_space(uint32_t c) { return py_isspace(c) && !(c >= 0x1C && c <= 0x1F); }

/* basic_clean's strip(), then whitespace_clean: every run of \s becomes one space. The second
 * strip() has nothing left to do: both ends are already non-space. Returns the length. */
static size_t clean_space(const uint32_t *in, size_t n, uint32_t *out) {
    size_t lo = 0, hi = n, o = 0;
    while (lo < hi && py_isspace(in[lo]))
        lo++;
    while (hi > lo && py_isspace(in[hi - 1]))
        hi--;
    for (size_t i = lo; i < hi; i++) {
        if (!re_space(in[i]))
            out[o++] = in[i];
        else if (!re_space(in[i - 1]))
            out[o++] = ' ';
    }
    return o;
}

/* Code points lo..hi, every stride-th from lo, lower-case to themselves plus delta. Generated
 * from Python 3.11 (Unicode 14): every c with len(chr(c).lower()) == 1 != chr(c).lower(). */
struct lower_run {
    uint32_t lo, hi;
    int32_t stride, delta;
};

static const struct lower_run LOWER[] = {
    {0x41, 0x5A, 1, 32},         {0xC0, 0xD6, 1, 32},         {0xD8, 0xDE, 1, 32},
    {0x100, 0x12E, 2, 1},        {0x132, 0x136, 2, 1},        {0x139, 0x147, 2, 1},
    {0x14A, 0x176, 2, 1},        {0x178, 0x178, 1, -121},     {0x179, 0x17D, 2, 1},
    {0x181, 0x181, 1, 210},      {0x182, 0x184, 2, 1},        {0x186, 0x186, 1, 206},
    {0x187, 0x187, 1, 1},        {0x189, 0x18A, 1, 205},      {0x18B, 0x18B, 1, 1},
    {0x18E, 0x18E, 1, 79},       {0x18F, 0x18F, 1, 202},      {0x190, 0x190, 1, 203},
    {0x191, 0x191, 1, 1},        {0x193, 0x193, 1, 205},      {0x194, 0x194, 1, 207},
    {0x196, 0x196, 1, 211},      {0x197, 0x197, 1, 209},      {0x198, 0x198, 1, 1},
    {0x19C, 0x19C, 1, 211},      {0x19D, 0x19D, 1, 213},      {0x19F, 0x19F, 1, 214},
    {0x1A0, 0x1A4, 2, 1},        {0x1A6, 0x1A6, 1, 218},      {0x1A7, 0x1A7, 1, 1},
    {0x1A9, 0x1A9, 1, 218},      {0x1AC, 0x1AC, 1, 1},        {0x1AE, 0x1AE, 1, 218},
    {0x1AF, 0x1AF, 1, 1},        {0x1B1, 0x1B2, 1, 217},      {0x1B3, 0x1B5, 2, 1},
    {0x1B7, 0x1B7, 1, 219},      {0x1B8, 0x1B8, 1, 1},        {0x1BC, 0x1BC, 1, 1},
    {0x1C4, 0x1C4, 1, 2},        {0x1C5, 0x1C5, 1, 1},        {0x1C7, 0x1C7, 1, 2},
    {0x1C8, 0x1C8, 1, 1},        {0x1CA, 0x1CA, 1, 2},        {0x1CB, 0x1DB, 2, 1},
    {0x1DE, 0x1EE, 2, 1},        {0x1F1, 0x1F1, 1, 2},        {0x1F2, 0x1F4, 2, 1},
    {0x1F6, 0x1F6, 1, -97},      {0x1F7, 0x1F7, 1, -56},      {0x1F8, 0x21E, 2, 1},
    {0x220, 0x220, 1, -130},     {0x222, 0x232, 2, 1},        {0x23A, 0x23A, 1, 10795},
    {0x23B, 0x23B, 1, 1},        {0x23D, 0x23D, 1, -163},     {0x23E, 0x23E, 1, 10792},
    {0x241, 0x241, 1, 1},        {0x243, 0x243, 1, -195},     {0x244, 0x244, 1, 69},
    {0x245, 0x245, 1, 71},       {0x246, 0x24E, 2, 1},        {0x370, 0x372, 2, 1},
    {0x376, 0x376, 1, 1},        {0x37F, 0x37F, 1, 116},      {0x386, 0x386, 1, 38},
    {0x388, 0x38A, 1, 37},       {0x38C, 0x38C, 1, 64},       {0x38E, 0x38F, 1, 63},
    {0x391, 0x3A1, 1, 32},       {0x3A3, 0x3AB, 1, 32},       {0x3CF, 0x3CF, 1, 8},
    {0x3D8, 0x3EE, 2, 1},        {0x3F4, 0x3F4, 1, -60},      {0x3F7, 0x3F7, 1, 1},
    {0x3F9, 0x3F9, 1, -7},       {0x3FA, 0x3FA, 1, 1},        {0x3FD, 0x3FF, 1, -130},
    {0x400, 0x40F, 1, 80},       {0x410, 0x42F, 1, 32},       {0x460, 0x480, 2, 1},
    {0x48A, 0x4BE, 2, 1},        {0x4C0, 0x4C0, 1, 15},       {0x4C1, 0x4CD, 2, 1},
    {0x4D0, 0x52E, 2, 1},        {0x531, 0x556, 1, 48},       {0x10A0, 0x10C5, 1, 7264},
    {0x10C7, 0x10C7, 1, 7264},   {0x10CD, 0x10CD, 1, 7264},   {0x13A0, 0x13EF, 1, 38864},
    {0x13F0, 0x13F5, 1, 8},      {0x1C90, 0x1CBA, 1, -3008},  {0x1CBD, 0x1CBF, 1, -3008},
    {0x1E00, 0x1E94, 2, 1},      {0x1E9E, 0x1E9E, 1, -7615},  {0x1EA0, 0x1EFE, 2, 1},
    {0x1F08, 0x1F0F, 1, -8},     {0x1F18, 0x1F1D, 1, -8},     {0x1F28, 0x1F2F, 1, -8},
    {0x1F38, 0x1F3F, 1, -8},     {0x1F48, 0x1F4D, 1, -8},     {0x1F59, 0x1F5F, 2, -8},
    {0x1F68, 0x1F6F, 1, -8},     {0x1F88, 0x1F8F, 1, -8},     {0x1F98, 0x1F9F, 1, -8},
    {0x1FA8, 0x1FAF, 1, -8},     {0x1FB8, 0x1FB9, 1, -8},     {0x1FBA, 0x1FBB, 1, -74},
    {0x1FBC, 0x1FBC, 1, -9},     {0x1FC8, 0x1FCB, 1, -86},    {0x1FCC, 0x1FCC, 1, -9},
    {0x1FD8, 0x1FD9, 1, -8},     {0x1FDA, 0x1FDB, 1, -100},   {0x1FE8, 0x1FE9, 1, -8},
    {0x1FEA, 0x1FEB, 1, -112},   {0x1FEC, 0x1FEC, 1, -7},     {0x1FF8, 0x1FF9, 1, -128},
    {0x1FFA, 0x1FFB, 1, -126},   {0x1FFC, 0x1FFC, 1, -9},     {0x2126, 0x2126, 1, -7517},
    {0x212A, 0x212A, 1, -8383},  {0x212B, 0x212B, 1, -8262},  {0x2132, 0x2132, 1, 28},
    {0x2160, 0x216F, 1, 16},     {0x2183, 0x2183, 1, 1},      {0x24B6, 0x24CF, 1, 26},
    {0x2C00, 0x2C2F, 1, 48},     {0x2C60, 0x2C60, 1, 1},      {0x2C62, 0x2C62, 1, -10743},
    {0x2C63, 0x2C63, 1, -3814},  {0x2C64, 0x2C64, 1, -10727}, {0x2C67, 0x2C6B, 2, 1},
    {0x2C6D, 0x2C6D, 1, -10780}, {0x2C6E, 0x2C6E, 1, -10749}, {0x2C6F, 0x2C6F, 1, -10783},
    {0x2C70, 0x2C70, 1, -10782}, {0x2C72, 0x2C72, 1, 1},      {0x2C75, 0x2C75, 1, 1},
    {0x2C7E, 0x2C7F, 1, -10815}, {0x2C80, 0x2CE2, 2, 1},      {0x2CEB, 0x2CED, 2, 1},
    {0x2CF2, 0x2CF2, 1, 1},      {0xA640, 0xA66C, 2, 1},      {0xA680, 0xA69A, 2, 1},
    {0xA722, 0xA72E, 2, 1},      {0xA732, 0xA76E, 2, 1},      {0xA779, 0xA77B, 2, 1},
    {0xA77D, 0xA77D, 1, -35332}, {0xA77E, 0xA786, 2, 1},      {0xA78B, 0xA78B, 1, 1},
    {0xA78D, 0xA78D, 1, -42280}, {0xA790, 0xA792, 2, 1},      {0xA796, 0xA7A8, 2, 1},
    {0xA7AA, 0xA7AA, 1, -42308}, {0xA7AB, 0xA7AB, 1, -42319}, {0xA7AC, 0xA7AC, 1, -42315},
    {0xA7AD, 0xA7AD, 1, -42305}, {0xA7AE, 0xA7AE, 1, -42308}, {0xA7B0, 0xA7B0, 1, -42258},
    {0xA7B1, 0xA7B1, 1, -42282}, {0xA7B2, 0xA7B2, 1, -42261}, {0xA7B3, 0xA7B3, 1, 928},
    {0xA7B4, 0xA7C2, 2, 1},      {0xA7C4, 0xA7C4, 1, -48},    {0xA7C5, 0xA7C5, 1, -42307},
    {0xA7C6, 0xA7C6, 1, -35384}, {0xA7C7, 0xA7C9, 2, 1},      {0xA7D0, 0xA7D0, 1, 1},
    {0xA7D6, 0xA7D8, 2, 1},      {0xA7F5, 0xA7F5, 1, 1},      {0xFF21, 0xFF3A, 1, 32},
    {0x10400, 0x10427, 1, 40},   {0x104B0, 0x104D3, 1, 40},   {0x10570, 0x1057A, 1, 39},
    {0x1057C, 0x1058A, 1, 39},   {0x1058C, 0x10592, 1, 39},   {0x10594, 0x10595, 1, 39},
    {0x10C80, 0x10CB2, 1, 64},   {0x118A0, 0x118BF, 1, 32},   {0x16E40, 0x16E5F, 1, 32},
    {0x1E900, 0x1E921, 1, 34},
};

static uint32_t lower_simple(uint32_t c) {
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    size_t lo = 0, hi = NELEM(LOWER);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct lower_run *r = &LOWER[mid];
        if (c < r->lo)
            hi = mid;
        else if (c > r->hi)
            lo = mid + 1;
        else
            return (c - r->lo) % (uint32_t)r->stride ? c : (uint32_t)((int32_t)c + r->delta);
    }
    return c;
}

/* Whether code point c has the property of re: \p{Cased} or \p{Case_Ignorable}. */
static bool has_property(const pcre2_code *re, pcre2_match_data *md, uint32_t c) {
    char buf[4];
    size_t n = mill_pystr_encode_cp(c, buf);
    return pcre2_match(re, (PCRE2_SPTR)buf, n, 0, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK, md, NULL) >
           0;
}

/* CPython's handle_capital_sigma: Σ at s[i] is final when a cased letter precedes it and none
 * follows it, case-ignorable characters skipped on both sides. */
static bool final_sigma(const struct mill_clip_tokenizer *tok, pcre2_match_data *md,
                        const uint32_t *s, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && has_property(tok->re_ignorable, md, s[j - 1]))
        j--;
    if (j == 0 || !has_property(tok->re_cased, md, s[j - 1]))
        return false;
    for (j = i + 1; j < n && has_property(tok->re_ignorable, md, s[j]); j++)
        ;
    return j == n || !has_property(tok->re_cased, md, s[j]);
}

/* str.lower() into out (up to 2n code points: U+0130 becomes two); returns the length. With
 * md NULL, each character alone (tokenizers' Lowercase: Rust's char::to_lowercase), so a
 * capital sigma is always U+03C3. */
static size_t lower_all(const struct mill_clip_tokenizer *tok, pcre2_match_data *md,
                        const uint32_t *in, size_t n, uint32_t *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0x130) {
            out[o++] = 'i';
            out[o++] = 0x307;
        } else if (in[i] == 0x3A3) {
            out[o++] = md && final_sigma(tok, md, in, n, i) ? 0x3C2 : 0x3C3;
        } else {
            out[o++] = lower_simple(in[i]);
        }
    }
    return o;
}

/* text[0..n) as valid UTF-8, as Python's bytes.decode("utf-8", "replace") makes it, malloc'd
 * (length in *len); NULL when out of memory. */
static char *python_utf8(const char *text, size_t n, size_t *len) {
    uint32_t *cps = n < SIZE_MAX / 8 ? malloc((n + 1) * sizeof *cps) : NULL;
    char *valid = n < SIZE_MAX / 8 ? malloc(4 * n + 1) : NULL;
    if (cps && valid)
        *len = mill_pystr_encode(cps, mill_pystr_decode(text, n, cps), valid);
    else {
        free(valid);
        valid = NULL;
    }
    free(cps);
    return valid;
}

/* ftfy.fix_text(text) as malloc'd UTF-8 (length in *len), text first made valid UTF-8 as
 * Python's decoding would; NULL when out of memory. */
static char *fix_text(const struct mill_clip_tokenizer *tok, const char *text, size_t n,
                      size_t *len) {
    size_t m;
    char *valid = python_utf8(text, n, &m), *fixed = NULL;
    struct mill_err err = {0};
    if (valid && mill_ftfy_fix_text(tok->ftfy, valid, m, &fixed, len, &err))
        fixed = NULL;
    free(valid);
    return fixed;
}

/* Every run of White_Space one space, without stripping the ends (tokenizers' Replace of \s+:
 * the pattern drops the spaces either way). Returns the length. */
static size_t collapse_space(const uint32_t *in, size_t n, uint32_t *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (!re_space(in[i]))
            out[o++] = in[i];
        else if (i == 0 || !re_space(in[i - 1]))
            out[o++] = ' ';
    return o;
}

/* text as valid UTF-8 (Python's decoding), then NFC, as malloc'd UTF-8 (length in *len); NULL
 * when out of memory. */
static char *nfc_text(const char *text, size_t n, size_t *len) {
    size_t m;
    char *valid = python_utf8(text, n, &m), *out = NULL;
    utf8proc_uint8_t *d = NULL;
    utf8proc_ssize_t k = valid ? utf8proc_map((const utf8proc_uint8_t *)valid, (utf8proc_ssize_t)m,
                                              &d, UTF8PROC_STABLE | UTF8PROC_COMPOSE)
                               : -1;
    if (k >= 0) { /* else out of memory: the text is valid UTF-8 */
        out = (char *)d;
        *len = (size_t)k;
    }
    free(valid);
    return out;
}

/* The text the pattern runs on, as malloc'd UTF-8 (length in *len); NULL when out of memory.
 * open_clip: whitespace_clean(basic_clean(text)).lower(), basic_clean's ftfy.fix_text only
 * where the tokenizer uses ftfy. CLIPTokenizerFast (hf_fast): NFC, White_Space runs, lower-case
 * by character. */
static char *clean_text(const struct mill_clip_tokenizer *tok, pcre2_match_data *md,
                        const char *text, size_t *len) {
    size_t n = strlen(text);
    char *fixed = tok->ftfy      ? fix_text(tok, text, n, &n)
                  : tok->hf_fast ? nfc_text(text, n, &n)
                                 : NULL;
    if ((tok->ftfy || tok->hf_fast) && !fixed)
        return NULL;
    if (n > SIZE_MAX / 16 - 1) {
        free(fixed);
        return NULL;
    }
    uint32_t *a = malloc((2 * n + 1) * sizeof *a), *b = malloc((2 * n + 1) * sizeof *b);
    char *s = NULL;
    if (a && b) {
        size_t m = mill_pystr_decode(fixed ? fixed : text, n, a);
        if (tok->hf_fast) {
            m = collapse_space(a, m, b);
            m = lower_all(tok, NULL, b, m, a);
        } else {
            m = mill_pystr_html_unescape(a, m, b);
            m = mill_pystr_html_unescape(b, m, a);
            m = clean_space(a, m, b);
            m = lower_all(tok, md, b, m, a);
        }
        if ((s = malloc(4 * m + 1)))
            *len = mill_pystr_encode(a, m, s);
    }
    free(a);
    free(b);
    free(fixed);
    return s;
}

/* ---- hash maps ------------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * UINT64_C(1099511628211);
    return h ^ h >> 29;
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    return x ^ x >> 33;
}

static uint64_t pair_key(int32_t a, int32_t b) {
    return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
}

static struct pair_slot *pair_slot(const struct pair_map *m, uint64_t key) {
    size_t i = (size_t)mix64(key) & m->mask;
    while (m->slots[i].key != key && m->slots[i].key != 0)
        i = (i + 1) & m->mask;
    return &m->slots[i];
}

static const struct pair_slot *pair_get(const struct pair_map *m, int32_t a, int32_t b) {
    const struct pair_slot *s = pair_slot(m, pair_key(a, b));
    return s->key ? s : NULL;
}

/* A later merge of the same pair replaces the earlier (dict(zip(merges, ranks))). */
static void pair_set(struct pair_map *m, int32_t a, int32_t b, uint32_t rank, int32_t merged) {
    struct pair_slot *s = pair_slot(m, pair_key(a, b));
    *s = (struct pair_slot){pair_key(a, b), rank, merged};
}

/* String -> id, for loading only: keys live in one arena. */
struct str_slot {
    uint64_t hash;
    size_t off;
    uint32_t len;
    int32_t id; /* -1: empty */
};

struct str_map {
    struct str_slot *slots;
    size_t mask, n;
    struct mill_buf arena;
};

static struct str_slot *str_slot(const struct str_map *m, const char *s, size_t n, uint64_t h) {
    size_t i = (size_t)h & m->mask;
    for (;; i = (i + 1) & m->mask) {
        struct str_slot *e = &m->slots[i];
        if (e->id < 0 || (e->hash == h && e->len == n && !memcmp(m->arena.p + e->off, s, n)))
            return e;
    }
}

static int str_map_grow(struct str_map *m) {
    size_t cap = m->slots ? (m->mask + 1) * 2 : 1024;
    struct str_slot *old = m->slots;
    size_t old_cap = old ? m->mask + 1 : 0;
    if (!(m->slots = malloc(cap * sizeof *m->slots))) {
        m->slots = old;
        return MILL_ENOMEM;
    }
    for (size_t i = 0; i < cap; i++)
        m->slots[i].id = -1;
    m->mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].id >= 0)
            *str_slot(m, old[i].off + m->arena.p, old[i].len, old[i].hash) = old[i];
    free(old);
    return 0;
}

/* Sets s[0..n) to id, replacing an earlier id (dict semantics). */
static int str_map_put(struct str_map *m, const char *s, size_t n, int32_t id) {
    if ((!m->slots || 2 * (m->n + 1) > m->mask + 1) && str_map_grow(m))
        return MILL_ENOMEM;
    uint64_t h = hash_bytes(s, n);
    struct str_slot *e = str_slot(m, s, n, h);
    if (e->id < 0) {
        size_t off = m->arena.n;
        if (n > UINT32_MAX || mill_buf_add(&m->arena, s, n))
            return MILL_ENOMEM;
        *e = (struct str_slot){h, off, (uint32_t)n, id};
        m->n++;
    }
    e->id = id;
    return 0;
}

static int32_t str_map_get(const struct str_map *m, const char *s, size_t n) {
    return m->slots ? str_slot(m, s, n, hash_bytes(s, n))->id : -1;
}

static void str_map_free(struct str_map *m) {
    free(m->slots);
    mill_buf_free(&m->arena);
}

/* ---- BPE ------------------------------------------------------------------------------- */

struct heap_item {
    uint32_t rank, pos; /* valid while the pair at pos still has this rank */
};

/* Scratch for one word of n bytes: a linked list of symbols and a heap of candidate merges. */
struct bpe_work {
    size_t cap;
    int32_t *id, *next, *prev, *out; /* id -1: merged into its left neighbour */
    struct heap_item *heap, *round;  /* 3 * cap each: n - 1 pairs, then 2 per merge */
    size_t heap_n;
};

static int bpe_reserve(struct bpe_work *w, size_t n) {
    if (n <= w->cap)
        return 0;
    size_t cap = n < 64 ? 64 : n;
    int32_t *ints = realloc(w->id, 4 * cap * sizeof *ints);
    if (ints)
        w->id = ints;
    struct heap_item *items = realloc(w->heap, 6 * cap * sizeof *items);
    if (items)
        w->heap = items;
    if (!ints || !items)
        return MILL_ENOMEM;
    w->next = w->id + cap, w->prev = w->id + 2 * cap, w->out = w->id + 3 * cap;
    w->round = w->heap + 3 * cap;
    w->cap = cap;
    return 0;
}

static void bpe_free(struct bpe_work *w) {
    free(w->id);
    free(w->heap);
}

static bool item_less(struct heap_item a, struct heap_item b) {
    return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos;
}

static void heap_push(struct bpe_work *w, struct heap_item it) {
    size_t i = w->heap_n++;
    for (; i > 0 && item_less(it, w->heap[(i - 1) / 2]); i = (i - 1) / 2)
        w->heap[i] = w->heap[(i - 1) / 2];
    w->heap[i] = it;
}

static struct heap_item heap_pop(struct bpe_work *w) {
    struct heap_item top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (size_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && item_less(w->heap[c + 1], w->heap[c]))
            c++;
        if (!item_less(w->heap[c], last))
            break;
        w->heap[i] = w->heap[c];
    }
    if (n)
        w->heap[i] = last;
    return top;
}

/* The merge for the pair starting at symbol pos, or NULL. */
static const struct pair_slot *pair_at(const struct mill_clip_tokenizer *tok,
                                       const struct bpe_work *w, int32_t pos) {
    if (pos < 0 || w->id[pos] < 0 || w->next[pos] < 0)
        return NULL;
    return pair_get(&tok->pairs, w->id[pos], w->id[w->next[pos]]);
}

static void push_pair(const struct mill_clip_tokenizer *tok, struct bpe_work *w, int32_t pos) {
    const struct pair_slot *p = pair_at(tok, w, pos);
    if (p)
        heap_push(w, (struct heap_item){p->rank, (uint32_t)pos});
}

static void merge_at(const struct mill_clip_tokenizer *tok, struct bpe_work *w, int32_t pos,
                     int32_t merged) {
    int32_t right = w->next[pos];
    w->id[pos] = merged;
    w->id[right] = -1;
    w->next[pos] = w->next[right];
    if (w->next[right] >= 0)
        w->prev[w->next[right]] = pos;
    push_pair(tok, w, w->prev[pos]);
    push_pair(tok, w, pos);
}

/* open_clip's bpe() on one pre-token's bytes s[0..n), n >= 1: each round takes the pair of
 * lowest rank and merges its occurrences left to right. A round's pairs are taken off the heap
 * before it starts, so even a merge table whose new pairs rank lower than the pair just merged
 * gives Python's result. Ids go to w->out; returns their number. */
static size_t bpe_word(const struct mill_clip_tokenizer *tok, const unsigned char *s, size_t n,
                       struct bpe_work *w) {
    for (size_t i = 0; i < n; i++) {
        w->id[i] = i + 1 < n ? tok->byte_id[s[i]] : tok->byte_end_id[s[i]];
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    w->heap_n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        push_pair(tok, w, (int32_t)i);
    while (w->heap_n) {
        size_t k = 0;
        uint32_t rank = w->heap[0].rank;
        while (w->heap_n && w->heap[0].rank == rank)
            w->round[k++] = heap_pop(w);
        for (size_t j = 0; j < k; j++) {
            const struct pair_slot *p = pair_at(tok, w, (int32_t)w->round[j].pos);
            if (p && p->rank == rank)
                merge_at(tok, w, (int32_t)w->round[j].pos, p->merged);
        }
    }
    size_t m = 0;
    for (int32_t p = 0; p >= 0; p = w->next[p])
        w->out[m++] = w->id[p];
    return m;
}

/* ---- word cache ------------------------------------------------------------------------ */

static struct word_cache *cache_new(void) {
    struct word_cache *c = calloc(1, sizeof *c);
    if (c && !(c->slots = calloc(CACHE_SLOTS, sizeof *c->slots))) {
        free(c);
        return NULL;
    }
    if (c)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void cache_free(struct word_cache *c) {
    if (!c)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        free(c->slots[i]);
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* The slot of word s[0..n) with hash h: its entry, or the empty slot where it would go. The
 * table is at most half full, so the probe ends. */
static struct cache_entry **cache_slot(struct word_cache *c, const char *s, size_t n, uint64_t h) {
    for (size_t i = (size_t)h & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        struct cache_entry *e = c->slots[i];
        if (!e ||
            (e->hash == h && e->key_len == n && !memcmp((const char *)(e->ids + e->n_ids), s, n)))
            return &c->slots[i];
    }
}

/* Copies the cached ids of s[0..n) to out; returns their number, 0 when not cached. */
static size_t cache_get(struct word_cache *c, const char *s, size_t n, uint64_t h, int32_t *out) {
    pthread_mutex_lock(&c->lock);
    const struct cache_entry *e = *cache_slot(c, s, n, h);
    size_t m = e ? e->n_ids : 0;
    if (m)
        memcpy(out, e->ids, m * sizeof *out);
    pthread_mutex_unlock(&c->lock);
    return m;
}

/* Remembers ids[0..m) for s[0..n) while there is room; a full cache just stops growing. */
static void cache_put(struct word_cache *c, const char *s, size_t n, uint64_t h, const int32_t *ids,
                      size_t m) {
    struct cache_entry *e = malloc(sizeof *e + m * sizeof *ids + n);
    if (!e)
        return;
    *e = (struct cache_entry){h, (uint32_t)n, (uint32_t)m};
    memcpy(e->ids, ids, m * sizeof *ids);
    memcpy((char *)(e->ids + m), s, n);
    pthread_mutex_lock(&c->lock);
    struct cache_entry **slot = cache_slot(c, s, n, h);
    if (!*slot && c->n < CACHE_MAX_WORDS) {
        *slot = e;
        c->n++;
        e = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    free(e);
}

/* ---- tokenising ------------------------------------------------------------------------ */

/* The ids of one pre-token s[0..n) (n >= 1) into w->out; returns their number or MILL_ENOMEM.
 * The special-token texts map to their ids, as SimpleTokenizer's seeded cache does. */
static int word_ids(const struct mill_clip_tokenizer *tok, const char *s, size_t n,
                    struct bpe_work *w) {
    if (bpe_reserve(w, n))
        return MILL_ENOMEM;
    if (n == strlen(SOT_TEXT) && !memcmp(s, SOT_TEXT, n)) {
        w->out[0] = tok->sot;
        return 1;
    }
    if (n == strlen(EOT_TEXT) && !memcmp(s, EOT_TEXT, n)) {
        w->out[0] = tok->eot;
        return 1;
    }
    bool cacheable = n <= CACHE_MAX_WORD_BYTES;
    uint64_t h = cacheable ? hash_bytes(s, n) : 0;
    size_t m = cacheable ? cache_get(tok->cache, s, n, h, w->out) : 0;
    if (m)
        return (int)m;
    m = bpe_word(tok, (const unsigned char *)s, n, w);
    if (cacheable)
        cache_put(tok->cache, s, n, h, w->out, m);
    return (int)m;
}

/* Appends the ids of the pre-tokens of s[0..len) to out from *k, stopping once out[0..cap) is
 * full (that already decides the truncation). */
/* The ids of s[0..len) split by re, appended to out[*k..cap). */
static int encode_pattern(const struct mill_clip_tokenizer *tok, const pcre2_code *re,
                          pcre2_match_data *md, const char *s, size_t len, int32_t *out, size_t cap,
                          size_t *k, struct mill_err *err) {
    struct bpe_work w = {0};
    int rc = 0;
    for (size_t off = 0; !rc && *k < cap && off < len;) {
        int m = pcre2_match(re, (PCRE2_SPTR)s, len, off, PCRE2_NO_UTF_CHECK, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH)
            break;
        if (m < 0) {
            rc = mill_err_set(err, MILL_EFORMAT, "clip tokenizer: PCRE2 match error %d", m);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        off = ov[1];
        if (ov[1] == ov[0]) /* cannot happen with this pattern; step one character */
            for (off++; off < len && ((unsigned char)s[off] & 0xC0) == 0x80; off++)
                ;
        int n = ov[1] > ov[0] ? word_ids(tok, s + ov[0], ov[1] - ov[0], &w) : 0;
        if (n < 0)
            rc = mill_err_set(err, n, "clip tokenizer: out of memory");
        for (int i = 0; i < n && *k < cap; i++)
            out[(*k)++] = w.out[i];
    }
    bpe_free(&w);
    return rc;
}

/* The ids of the cleaned text s[0..len): open_clip's pattern over it all; for
 * CLIPTokenizerFast, the special tokens' text split out first (tokenizers' added tokens),
 * then its pattern over each piece between. */
static int encode_into(const struct mill_clip_tokenizer *tok, pcre2_match_data *md, const char *s,
                       size_t len, int32_t *out, size_t cap, size_t *k, struct mill_err *err) {
    if (!tok->hf_fast)
        return encode_pattern(tok, tok->re, md, s, len, out, cap, k, err);
    int rc = 0;
    for (size_t off = 0; !rc && off < len && *k < cap;) {
        const char *sot = memmem(s + off, len - off, SOT_TEXT, strlen(SOT_TEXT));
        const char *eot = memmem(s + off, len - off, EOT_TEXT, strlen(EOT_TEXT));
        const char *hit = sot && (!eot || sot < eot) ? sot : eot;
        size_t end = hit ? (size_t)(hit - s) : len;
        rc = encode_pattern(tok, tok->re_fast, md, s + off, end - off, out, cap, k, err);
        if (!rc && hit && *k < cap)
            out[(*k)++] = hit == sot ? tok->sot : tok->eot;
        off = hit ? end + strlen(hit == sot ? SOT_TEXT : EOT_TEXT) : len;
    }
    return rc;
}

int mill_clip_tokenize(const struct mill_clip_tokenizer *tok, const char *text, int context_length,
                       int32_t *out, struct mill_err *err) {
    if (!tok || !text || !out)
        return mill_err_set(err, MILL_EINVAL, "clip tokenizer: NULL argument");
    if (context_length < 2)
        return mill_err_set(err, MILL_EINVAL, "clip tokenizer: context length %d < 2",
                            context_length);
    size_t len = 0, k = 1, cap = (size_t)context_length;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(tok->re, NULL);
    char *s = md ? clean_text(tok, md, text, &len) : NULL;
    out[0] = tok->sot;
    int rc = s ? encode_into(tok, md, s, len, out, cap, &k, err)
               : mill_err_set(err, MILL_ENOMEM, "clip tokenizer: out of memory");
    free(s);
    pcre2_match_data_free(md);
    if (rc)
        return rc;
    if (k == cap) { /* SOT + tokens + EOT would not fit: keep the first cap - 2 tokens */
        out[cap - 1] = tok->eot;
        return context_length;
    }
    out[k++] = tok->eot;
    memset(out + k, 0, (cap - k) * sizeof *out);
    return (int)k;
}

int32_t mill_clip_sot(const struct mill_clip_tokenizer *tok) { return tok->sot; }
int32_t mill_clip_eot(const struct mill_clip_tokenizer *tok) { return tok->eot; }

/* ---- loading --------------------------------------------------------------------------- */

static int open_error(const char *path, struct mill_err *err) {
    return mill_err_set(err, errno == ENOENT ? MILL_ENOTFOUND : MILL_EIO,
                        "clip tokenizer: cannot open %s: %s", path, strerror(errno));
}

/* The decompressed contents of gzip file path into out (NUL-terminated). */
static int read_gz(const char *path, struct mill_buf *out, struct mill_err *err) {
    gzFile f = gzopen(path, "rb");
    if (!f)
        return open_error(path, err);
    char chunk[65536];
    int got, rc = 0, zerr = Z_OK;
    while (!rc && (got = gzread(f, chunk, sizeof chunk)) > 0) {
        if (gzdirect(f) || out->n + (size_t)got > MAX_FILE_BYTES)
            rc = MILL_EFORMAT;
        else if (mill_buf_add(out, chunk, (size_t)got))
            rc = MILL_ENOMEM;
    }
    gzerror(f, &zerr);
    if (!rc && (gzdirect(f) || (zerr != Z_OK && zerr != Z_STREAM_END)))
        rc = MILL_EFORMAT;
    gzclose(f);
    if (!rc && mill_buf_add(out, "", 0))
        rc = MILL_ENOMEM;
    if (rc == MILL_EFORMAT)
        return mill_err_set(err, rc,
                            "clip tokenizer: %s: not a gzip file, truncated, or over "
                            "%zu bytes",
                            path, MAX_FILE_BYTES);
    return rc ? mill_err_set(err, rc, "clip tokenizer: out of memory reading %s", path) : 0;
}

/* The contents of file path into out (NUL-terminated). */
static int read_plain(const char *path, struct mill_buf *out, struct mill_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return open_error(path, err);
    char chunk[65536];
    size_t got;
    int rc = 0;
    while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (out->n + got > MAX_FILE_BYTES)
            rc = mill_err_set(err, MILL_EFORMAT, "clip tokenizer: %s: over %zu bytes", path,
                              MAX_FILE_BYTES);
        else if (mill_buf_add(out, chunk, got))
            rc = mill_err_set(err, MILL_ENOMEM, "clip tokenizer: out of memory reading %s", path);
    }
    if (!rc && ferror(f))
        rc = mill_err_set(err, MILL_EIO, "clip tokenizer: %s: read error", path);
    fclose(f);
    if (!rc && mill_buf_add(out, "", 0))
        rc = mill_err_set(err, MILL_ENOMEM, "clip tokenizer: out of memory reading %s", path);
    return rc;
}

static int check_utf8(const char *path, const struct mill_buf *text, struct mill_err *err) {
    size_t at = utf8_invalid_at(text->p, text->n);
    if (at == text->n)
        return 0;
    return mill_err_set(err, MILL_EFORMAT, "clip tokenizer: %s: invalid UTF-8 at byte %zu", path,
                        at);
}

struct line {
    const char *p;
    size_t n;
};

/* text.split("\n")[1 : 1 + N_MERGES] into lines (room for N_MERGES); returns the count. */
static size_t merge_lines(const char *text, size_t n, struct line *lines) {
    const char *p = memchr(text, '\n', n), *end = text + n;
    size_t count = 0;
    while (p && count < N_MERGES) {
        const char *start = p + 1;
        p = memchr(start, '\n', (size_t)(end - start));
        lines[count++] = (struct line){start, (size_t)((p ? p : end) - start)};
    }
    return count;
}

/* str.split() of a line: the number of fields and the first two. */
struct fields {
    size_t count;
    const char *f[2];
    size_t fn[2];
};

static void split_fields(const char *p, size_t n, struct fields *fs) {
    fs->count = 0;
    for (size_t i = 0, k = 0; i < n;) {
        uint32_t cp;
        size_t start = i;
        for (; i < n && (k = mill_pystr_decode_cp((const unsigned char *)p + i, n - i, &cp)) &&
               !py_isspace(cp);
             i += k)
            ;
        if (i > start && fs->count < 2) {
            fs->f[fs->count] = p + start;
            fs->fn[fs->count] = i - start;
        }
        fs->count += i > start;
        if (i < n)
            i += k;
    }
}

/* "".join(line.split()): the line without its whitespace, into out. */
static int join_fields(const char *p, size_t n, struct mill_buf *out) {
    mill_buf_reset(out);
    for (size_t i = 0, k; i < n; i += k) {
        uint32_t cp;
        k = mill_pystr_decode_cp((const unsigned char *)p + i, n - i, &cp);
        if (!py_isspace(cp) && mill_buf_add(out, p + i, k))
            return MILL_ENOMEM;
    }
    return mill_buf_add(out, "", 0);
}

static bool printable_byte(int b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
}

/* bytes_to_unicode(): order[i] is the i-th byte of the dict, cp[b] the character of byte b. */
static void bytes_to_unicode(uint8_t order[256], uint32_t cp[256]) {
    int n = 0, extra = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int b = 0; b < 256; b++)
            if (printable_byte(b) == (pass == 0)) {
                order[n++] = (uint8_t)b;
                cp[b] = pass ? 256 + (uint32_t)extra++ : (uint32_t)b;
            }
}

/* The symbol of byte character cp, with "</w>" when end, into buf[8]; returns its length. */
static size_t byte_symbol(uint32_t cp, bool end, char *buf) {
    size_t n = mill_pystr_encode_cp(cp, buf);
    if (end)
        memcpy(buf + n, "</w>", 4);
    return n + (end ? 4 : 0);
}

/* open_clip's vocabulary: the byte characters, the same with "</w>", each merge joined, SOT,
 * EOT; a repeated string keeps its last id (dict(zip(vocab, range(len(vocab))))). */
static int gz_vocab(struct str_map *v, const struct line *lines, size_t nl) {
    uint8_t order[256];
    uint32_t cp[256];
    char sym[8];
    int32_t id = 0;
    int rc = 0;
    bytes_to_unicode(order, cp);
    for (int end = 0; end < 2 && !rc; end++)
        for (int i = 0; i < 256 && !rc; i++)
            rc = str_map_put(v, sym, byte_symbol(cp[order[i]], end, sym), id++);
    struct mill_buf joined = {0};
    for (size_t i = 0; i < nl && !rc; i++)
        if (!(rc = join_fields(lines[i].p, lines[i].n, &joined)))
            rc = str_map_put(v, joined.p, joined.n, id++);
    mill_buf_free(&joined);
    if (!rc)
        rc = str_map_put(v, SOT_TEXT, strlen(SOT_TEXT), id++);
    if (!rc)
        rc = str_map_put(v, EOT_TEXT, strlen(EOT_TEXT), id++);
    return rc;
}

static int pairs_init(struct pair_map *m, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    m->mask = cap - 1;
    return m->slots ? 0 : MILL_ENOMEM;
}

/* bpe_ranks: every two-field line is a pair ranked by its index. A pair with a side outside the
 * vocabulary can never occur and is skipped; its joined symbol must be in the vocabulary. */
static int build_pairs(struct mill_clip_tokenizer *tok, const struct str_map *v,
                       const struct line *lines, size_t nl, const char *path,
                       struct mill_err *err) {
    if (pairs_init(&tok->pairs, nl))
        return mill_err_set(err, MILL_ENOMEM, "clip tokenizer: out of memory");
    struct mill_buf joined = {0};
    int rc = 0;
    for (size_t i = 0; i < nl && !rc; i++) {
        struct fields fs;
        split_fields(lines[i].p, lines[i].n, &fs);
        int32_t a = fs.count == 2 ? str_map_get(v, fs.f[0], fs.fn[0]) : -1;
        int32_t b = a >= 0 ? str_map_get(v, fs.f[1], fs.fn[1]) : -1;
        if (b < 0)
            continue;
        if ((rc = join_fields(lines[i].p, lines[i].n, &joined)))
            break;
        int32_t merged = str_map_get(v, joined.p, joined.n);
        if (merged < 0)
            rc = mill_err_set(err, MILL_EFORMAT,
                              "clip tokenizer: %s: merge on line %zu makes "
                              "\"%s\", which is not in the vocabulary",
                              path, i + 2, joined.p);
        else
            pair_set(&tok->pairs, a, b, (uint32_t)i, merged);
    }
    mill_buf_free(&joined);
    return rc == MILL_ENOMEM ? mill_err_set(err, rc, "clip tokenizer: out of memory") : rc;
}

static pcre2_code *compile(const char *pattern, uint32_t opts, struct mill_err *err) {
    int ec;
    PCRE2_SIZE at;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | opts, &ec, &at, NULL);
    if (!re)
        mill_err_set(err, MILL_EUNSUPPORTED,
                     "clip tokenizer: this PCRE2 cannot compile %s "
                     "(error %d at %zu)",
                     pattern, ec, (size_t)at);
    else
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter serves when JIT fails */
    return re;
}

/* Byte symbols, SOT / EOT ids, the compiled patterns and the cache. */
static int finish_load(struct mill_clip_tokenizer *tok, const struct str_map *v, const char *path,
                       struct mill_err *err) {
    uint8_t order[256];
    uint32_t cp[256];
    char sym[8];
    bytes_to_unicode(order, cp);
    for (int b = 0; b < 256; b++) {
        tok->byte_id[b] = str_map_get(v, sym, byte_symbol(cp[b], false, sym));
        tok->byte_end_id[b] = str_map_get(v, sym, byte_symbol(cp[b], true, sym));
        if (tok->byte_id[b] < 0 || tok->byte_end_id[b] < 0)
            return mill_err_set(err, MILL_EFORMAT, "clip tokenizer: %s: no symbol for byte %d",
                                path, b);
    }
    tok->sot = str_map_get(v, SOT_TEXT, strlen(SOT_TEXT));
    tok->eot = str_map_get(v, EOT_TEXT, strlen(EOT_TEXT));
    if (tok->sot < 0 || tok->eot < 0)
        return mill_err_set(err, MILL_EFORMAT, "clip tokenizer: %s: no %s / %s token", path,
                            SOT_TEXT, EOT_TEXT);
    if (!(tok->re = compile(PATTERN, PCRE2_UCP | PCRE2_CASELESS, err)) ||
        !(tok->re_fast = compile(PATTERN_FAST, PCRE2_UCP, err)) ||
        !(tok->re_cased = compile("\\p{Cased}", 0, err)) ||
        !(tok->re_ignorable = compile("\\p{Case_Ignorable}", 0, err)))
        return MILL_EUNSUPPORTED;
    if (!(tok->cache = cache_new()))
        return mill_err_set(err, MILL_ENOMEM, "clip tokenizer: out of memory");
    return 0;
}

/* The merges lines of text, then the pairs and the rest, into tok. */
static int load_merges(struct mill_clip_tokenizer *tok, struct str_map *v, const char *text,
                       size_t n, bool derive_vocab, const char *path, struct mill_err *err) {
    struct line *lines = calloc(N_MERGES, sizeof *lines);
    if (!lines)
        return mill_err_set(err, MILL_ENOMEM, "clip tokenizer: out of memory");
    size_t nl = merge_lines(text, n, lines);
    int rc = derive_vocab ? gz_vocab(v, lines, nl) : 0;
    if (rc)
        rc = mill_err_set(err, rc, "clip tokenizer: out of memory");
    if (!rc)
        rc = build_pairs(tok, v, lines, nl, path, err);
    if (!rc)
        rc = finish_load(tok, v, path, err);
    free(lines);
    return rc;
}

int mill_clip_tokenizer_load_bpe_gz(const char *path, struct mill_clip_tokenizer **tok,
                                    struct mill_err *err) {
    if (!path || !tok)
        return mill_err_set(err, MILL_EINVAL, "clip tokenizer: NULL argument");
    *tok = calloc(1, sizeof **tok);
    struct mill_buf text = {0};
    struct str_map vocab = {0};
    int rc = *tok ? read_gz(path, &text, err)
                  : mill_err_set(err, MILL_ENOMEM, "clip tokenizer: out of memory");
    if (!rc)
        rc = check_utf8(path, &text, err);
    if (!rc)
        rc = load_merges(*tok, &vocab, text.p, text.n, true, path, err);
    mill_buf_free(&text);
    str_map_free(&vocab);
    if (rc) {
        mill_clip_tokenizer_free(*tok);
        *tok = NULL;
    }
    return rc;
}

/* ---- vocab.json ------------------------------------------------------------------------ */

struct json_in {
    const char *s;
    size_t n, i;
};

static void json_ws(struct json_in *j) {
    while (j->i < j->n &&
           (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
        j->i++;
}

static bool json_eat(struct json_in *j, char c) {
    json_ws(j);
    if (j->i >= j->n || j->s[j->i] != c)
        return false;
    j->i++;
    return true;
}

static int json_hex4(struct json_in *j, uint32_t *v) {
    *v = 0;
    for (int k = 0; k < 4; k++, j->i++) {
        int d = j->i < j->n ? mill_pystr_digit((unsigned char)j->s[j->i], true) : -1;
        if (d < 0)
            return MILL_EFORMAT;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

/* One escape after a backslash; UTF-16 surrogates must pair. */
static int json_escape(struct json_in *j, struct mill_buf *out) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char c = j->i < j->n ? j->s[j->i++] : 0;
    const char *p = c ? strchr(from, c) : NULL;
    if (p)
        return mill_buf_addc(out, to[p - from]);
    uint32_t v, lo;
    if (c != 'u' || json_hex4(j, &v) || (v >= 0xDC00 && v <= 0xDFFF))
        return MILL_EFORMAT;
    if (v >= 0xD800 && v <= 0xDBFF) {
        if (j->i + 2 > j->n || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u')
            return MILL_EFORMAT;
        j->i += 2;
        if (json_hex4(j, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return MILL_EFORMAT;
        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
    }
    char buf[4];
    return mill_buf_add(out, buf, mill_pystr_encode_cp(v, buf));
}

/* A JSON string (the text is valid UTF-8) into out. */
static int json_string(struct json_in *j, struct mill_buf *out) {
    mill_buf_reset(out);
    if (!json_eat(j, '"'))
        return MILL_EFORMAT;
    for (int rc = 0; j->i < j->n && !rc;) {
        unsigned char c = (unsigned char)j->s[j->i++];
        if (c == '"')
            return mill_buf_add(out, "", 0);
        if (c < 0x20)
            return MILL_EFORMAT;
        rc = c == '\\' ? json_escape(j, out) : mill_buf_addc(out, (char)c);
        if (rc)
            return rc;
    }
    return MILL_EFORMAT;
}

/* A token id: a JSON integer in [0, MAX_VOCAB_ID). */
static int json_id(struct json_in *j, int32_t *id) {
    int64_t v = 0;
    size_t start;
    json_ws(j);
    for (start = j->i; j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9'; j->i++)
        if ((v = v * 10 + (j->s[j->i] - '0')) >= MAX_VOCAB_ID)
            return MILL_EFORMAT;
    *id = (int32_t)v;
    return j->i > start ? 0 : MILL_EFORMAT;
}

/* {"token": id, ...} into v. */
static int json_vocab(struct json_in *j, struct str_map *v, struct mill_buf *key) {
    if (!json_eat(j, '{'))
        return MILL_EFORMAT;
    if (json_eat(j, '}'))
        return 0;
    for (int rc;;) {
        int32_t id;
        if ((rc = json_string(j, key)) || !json_eat(j, ':') || (rc = json_id(j, &id)))
            return rc ? rc : MILL_EFORMAT;
        if ((rc = str_map_put(v, key->p, key->n, id)))
            return rc;
        if (json_eat(j, '}'))
            return 0;
        if (!json_eat(j, ','))
            return MILL_EFORMAT;
    }
}

/* The ids must be distinct: BPE runs on ids, so two strings may not share one. */
static int check_unique_ids(const struct str_map *v, const char *path, struct mill_err *err) {
    uint8_t *seen = calloc(MAX_VOCAB_ID / 8, 1);
    if (!seen)
        return mill_err_set(err, MILL_ENOMEM, "clip tokenizer: out of memory");
    int rc = 0;
    for (size_t i = 0; v->slots && i <= v->mask && !rc; i++) {
        int32_t id = v->slots[i].id;
        if (id >= 0 && (seen[id / 8] >> (id % 8) & 1))
            rc = mill_err_set(err, MILL_EFORMAT, "clip tokenizer: %s: id %d appears twice", path,
                              (int)id);
        if (id >= 0)
            seen[id / 8] |= (uint8_t)(1u << (id % 8));
    }
    free(seen);
    return rc;
}

static int parse_vocab_json(const char *path, const char *s, size_t n, struct str_map *v,
                            struct mill_err *err) {
    struct json_in j = {s, n, 0};
    struct mill_buf key = {0};
    int rc = json_vocab(&j, v, &key);
    mill_buf_free(&key);
    if (!rc && (json_ws(&j), j.i != j.n))
        rc = MILL_EFORMAT;
    if (rc == MILL_EFORMAT)
        return mill_err_set(err, rc,
                            "clip tokenizer: %s: not a {\"token\": id} JSON object "
                            "with ids below %d (at byte %zu)",
                            path, MAX_VOCAB_ID, j.i);
    return rc ? mill_err_set(err, rc, "clip tokenizer: out of memory reading %s", path) : 0;
}

static bool ascii_space(char c) { return (unsigned char)c < 0x80 && py_isspace((unsigned char)c); }

int mill_clip_tokenizer_parse_hf(const struct mill_buf *vocab_json, const char *vocab_name,
                                 const struct mill_buf *merges_txt, const char *merges_name,
                                 struct mill_clip_tokenizer **tok, struct mill_err *err) {
    *tok = calloc(1, sizeof **tok);
    struct str_map vocab = {0};
    int rc = *tok ? check_utf8(vocab_name, vocab_json, err)
                  : mill_err_set(err, MILL_ENOMEM, "clip tokenizer: out of memory");
    if (!rc)
        rc = parse_vocab_json(vocab_name, vocab_json->p ? vocab_json->p : "", vocab_json->n, &vocab,
                              err);
    if (!rc)
        rc = check_unique_ids(&vocab, vocab_name, err);
    if (!rc)
        rc = check_utf8(merges_name, merges_txt, err);
    const char *m = merges_txt->p ? merges_txt->p : "";
    size_t lo = 0, hi = merges_txt->n; /* HF reads merges.txt .strip().split("\n") */
    while (!rc && lo < hi && ascii_space(m[lo]))
        lo++;
    while (!rc && hi > lo && ascii_space(m[hi - 1]))
        hi--;
    if (!rc)
        rc = load_merges(*tok, &vocab, m + lo, hi - lo, false, merges_name, err);
    str_map_free(&vocab);
    if (rc) {
        mill_clip_tokenizer_free(*tok);
        *tok = NULL;
    }
    return rc;
}

int mill_clip_tokenizer_load_hf(const char *vocab_json, const char *merges_txt,
                                struct mill_clip_tokenizer **tok, struct mill_err *err) {
    if (!vocab_json || !merges_txt || !tok)
        return mill_err_set(err, MILL_EINVAL, "clip tokenizer: NULL argument");
    *tok = NULL;
    struct mill_buf v = {0}, m = {0};
    int rc = read_plain(vocab_json, &v, err);
    if (!rc)
        rc = read_plain(merges_txt, &m, err);
    if (!rc)
        rc = mill_clip_tokenizer_parse_hf(&v, vocab_json, &m, merges_txt, tok, err);
    mill_buf_free(&v);
    mill_buf_free(&m);
    return rc;
}

void mill_clip_tokenizer_use_hf_fast(struct mill_clip_tokenizer *tok) { tok->hf_fast = true; }

int mill_clip_tokenizer_use_ftfy(struct mill_clip_tokenizer *tok, struct mill_err *err) {
    return tok->ftfy ? 0 : mill_ftfy_new(&tok->ftfy, err);
}

void mill_clip_tokenizer_free(struct mill_clip_tokenizer *tok) {
    if (!tok)
        return;
    free(tok->pairs.slots);
    pcre2_code_free(tok->re);
    pcre2_code_free(tok->re_fast);
    pcre2_code_free(tok->re_cased);
    pcre2_code_free(tok->re_ignorable);
    mill_ftfy_free(tok->ftfy);
    cache_free(tok->cache);
    free(tok);
}
