/* text.c: tables_in (rubricate.rubrics._sql), looks_like_error (rubricate.traces._normalise) and
 * marked_answer / _normal_text (rubricate.rubrics.checks.correctness), exactly, on ASCII text; the
 * ASCII stand-ins of non-ASCII text (stand_in) and _normal_text of UTF-8 text.
 *
 * Every regular expression of the Python code is reproduced by a hand-written scanner. The comment
 * above each scanner names the pattern and explains why the scanner takes the same path as Python's
 * backtracking matcher (for these patterns most choice points are decided by one character, so the
 * first successful path is found without backtracking).
 */
#include "kernel.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* s[0:len] equals the lower-case literal `lit` under ASCII case folding (caller checks bounds). */
static inline int ci_eq(const char *s, const char *lit, Py_ssize_t len) {
    for (Py_ssize_t k = 0; k < len; k++)
        if (k_lower((unsigned char)s[k]) != (unsigned char)lit[k]) return 0;
    return 1;
}

/* s[i:i+len] (bounded by n) equals the lower-case literal (ASCII case folding). */
static inline int ci_at(const char *s, Py_ssize_t n, Py_ssize_t i, const char *lit, Py_ssize_t len) {
    return i >= 0 && len <= n - i && ci_eq(s + i, lit, len);
}

static inline int cs_at(const char *s, Py_ssize_t n, Py_ssize_t i, const char *lit, Py_ssize_t len) {
    return i >= 0 && len <= n - i && memcmp(s + i, lit, (size_t)len) == 0;
}

static inline Py_ssize_t skip_ws(const char *s, Py_ssize_t i, Py_ssize_t end) {
    while (i < end && k_isspace((unsigned char)s[i])) i++;
    return i;
}

static inline Py_ssize_t skip_word(const char *s, Py_ssize_t i, Py_ssize_t end) {
    while (i < end && k_isword((unsigned char)s[i])) i++;
    return i;
}

/* \b at position i of s[0:end] (the string seen as ending at `end`). */
static inline int at_boundary(const char *s, Py_ssize_t i, Py_ssize_t end) {
    int before = i > 0 && k_isword((unsigned char)s[i - 1]);
    int after = i < end && k_isword((unsigned char)s[i]);
    return before != after;
}

/* \b just before a word character at i: the character before is not a word character. */
static inline int word_starts(const char *s, Py_ssize_t i) {
    return i == 0 || !k_isword((unsigned char)s[i - 1]);
}

/* \b just after a word character ending at i (string ending at end). */
static inline int word_ends(const char *s, Py_ssize_t i, Py_ssize_t end) {
    return i >= end || !k_isword((unsigned char)s[i]);
}

/* Case-insensitive substring search of a lower-case needle; index or -1. */
static Py_ssize_t ci_find(const char *s, Py_ssize_t n, const char *lit, Py_ssize_t len) {
    unsigned char c0 = (unsigned char)lit[0], c1 = c0 >= 'a' && c0 <= 'z' ? c0 - 32 : c0;
    for (Py_ssize_t i = 0; i + len <= n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c == c0 || c == c1) && ci_eq(s + i + 1, lit + 1, len - 1)) return i;
    }
    return -1;
}

/* Case-sensitive substring search; index or -1. */
static Py_ssize_t cs_find(const char *s, Py_ssize_t n, const char *lit, Py_ssize_t len) {
    if (len == 0) return 0;
    Py_ssize_t i = 0;
    while (i + len <= n) {
        const char *q = memchr(s + i, lit[0], (size_t)(n - len + 1 - i));
        if (q == NULL) return -1;
        i = q - s;
        if (memcmp(s + i + 1, lit + 1, (size_t)(len - 1)) == 0) return i;
        i++;
    }
    return -1;
}

/* ---------------------------------------------------------------- KNames */

void names_init(KNames *v) { memset(v, 0, sizeof *v); }

void names_free(KNames *v) {
    free(v->items);
    free(v->buf);
    memset(v, 0, sizeof *v);
}

void names_clear(KNames *v) {
    v->n = 0;
    v->buf_n = 0;
}

/* Append lower(s[0:len]) unless already present. K_OK or K_NOMEM (a MemoryError set). */
static int names_add(KNames *v, const char *s, Py_ssize_t len) {
    unsigned char first = k_lower((unsigned char)s[0]);
    for (int i = 0; i < v->n; i++) {
        const KStr *it = &v->items[i];
        if (it->n == len && (unsigned char)it->p[0] == first) {
            Py_ssize_t k = 1;
            while (k < len && (unsigned char)it->p[k] == k_lower((unsigned char)s[k])) k++;
            if (k == len) return K_OK;
        }
    }
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 16;
        KStr *items = realloc(v->items, (size_t)cap * sizeof *items);
        if (items == NULL) goto nomem;
        v->items = items;
        v->cap = cap;
    }
    if ((size_t)len > v->buf_cap - v->buf_n) {
        size_t cap = v->buf_cap ? v->buf_cap * 2 : 256;
        while (cap < v->buf_n + (size_t)len) cap *= 2;
        char *buf = malloc(cap);
        if (buf == NULL) goto nomem;
        if (v->buf_n) memcpy(buf, v->buf, v->buf_n);
        for (int i = 0; i < v->n; i++) v->items[i].p = buf + (v->items[i].p - v->buf);
        free(v->buf);
        v->buf = buf;
        v->buf_cap = cap;
    }
    char *dst = v->buf + v->buf_n;
    for (Py_ssize_t k = 0; k < len; k++) dst[k] = (char)k_lower((unsigned char)s[k]);
    v->buf_n += (size_t)len;
    v->items[v->n].p = dst;
    v->items[v->n].n = len;
    v->n++;
    return K_OK;
nomem:
    PyErr_NoMemory();
    return K_NOMEM;
}

/* ---------------------------------------------------------------- tables_in */

/* Four bytes as one word (first byte lowest) with ASCII letters folded to lower case. Compared
 * with a word of four lower-case letters this is exact: c | 0x20 == letter only for the letter in
 * either case. (Compilers turn the shifts into one load.) */
static inline uint32_t lower4(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return ((uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24) | 0x20202020u;
}

#define WORD4(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define W_FROM WORD4('f', 'r', 'o', 'm')
#define W_JOIN WORD4('j', 'o', 'i', 'n')

/* The first four letters of the words tables_in tests for ("from" in low, "with" in low, the
 * functions), each in its own slot of a multiplicative hash: one compare per position. */
#define SLOT_OF(w) ((uint32_t)((w) * 0xa6cecc1bu) >> 29)
enum { S_JOIN = 0, S_OVER = 1, S_EXTR = 2, S_POSI = 3, S_FROM = 4, S_SUBS = 5, S_WITH = 6, S_TRIM = 7 };
static const uint32_t SLOT_WORD[8] = {
    WORD4('j', 'o', 'i', 'n'), WORD4('o', 'v', 'e', 'r'), WORD4('e', 'x', 't', 'r'), WORD4('p', 'o', 's', 'i'),
    WORD4('f', 'r', 'o', 'm'), WORD4('s', 'u', 'b', 's'), WORD4('w', 'i', 't', 'h'), WORD4('t', 'r', 'i', 'm'),
};

/* from / join (either case) at p (p + 4 <= n): 1 for from, 2 for join, else 0. */
static inline int from_or_join(const char *s, Py_ssize_t p) {
    unsigned char c = (unsigned char)s[p] | 32;
    if (c != 'f' && c != 'j') return 0;
    uint32_t w = lower4(s + p);
    return w == W_FROM ? 1 : w == W_JOIN ? 2 : 0;
}

/* _KEYWORDS = {"select", "where", "on", "using", "lateral", "unnest", "dual"} (name is lower-cased
 * by the caller's comparison: ci). */
static int is_name_keyword(const char *s, Py_ssize_t len) {
    switch (len) {
    case 2: return ci_eq(s, "on", 2);
    case 4: return ci_eq(s, "dual", 4);
    case 5: return ci_eq(s, "where", 5) || ci_eq(s, "using", 5);
    case 6: return ci_eq(s, "select", 6) || ci_eq(s, "unnest", 6);
    case 7: return ci_eq(s, "lateral", 7);
    default: return 0;
    }
}

/* _ALIAS's negative lookahead: (?:join|on|where|...)\b at i, IGNORECASE. */
static const struct { const char *w; int n; } ALIAS_STOP[] = {
    {"join", 4}, {"on", 2}, {"where", 5}, {"group", 5}, {"order", 5}, {"limit", 5}, {"inner", 5},
    {"left", 4}, {"right", 5}, {"full", 4}, {"outer", 5}, {"cross", 5}, {"natural", 7}, {"union", 5},
    {"having", 6}, {"using", 5}, {"window", 6}, {"except", 6}, {"intersect", 9},
};

static int alias_stop_at(const char *s, Py_ssize_t n, Py_ssize_t i) {
    for (size_t k = 0; k < sizeof ALIAS_STOP / sizeof ALIAS_STOP[0]; k++) {
        Py_ssize_t len = ALIAS_STOP[k].n;
        if (ci_at(s, n, i, ALIAS_STOP[k].w, len) && word_ends(s, i + len, n)) return 1;
    }
    return 0;
}

static inline int is_part_char(unsigned char c) { return k_isword(c) || c == '$' || c == '-'; }

/* _PART = `[^`]+`|"[^"]+"|\[[^\]]+\]|[\w$\-]+ matched at i within s[0:end]: its end or -1.
 * The first character decides the alternative; a quoted [^q]+ runs to the first closing character
 * (shorter runs leave a non-closing character next), and [\w$\-]+ takes the longest run because
 * whatever follows in every pattern using _PART can match empty. */
static Py_ssize_t match_part(const char *s, Py_ssize_t i, Py_ssize_t end) {
    if (i >= end) return -1;
    unsigned char c = (unsigned char)s[i];
    char close;
    if (c == '`') close = '`';
    else if (c == '"') close = '"';
    else if (c == '[') close = ']';
    else if (is_part_char(c)) {
        Py_ssize_t j = i + 1;
        while (j < end && is_part_char((unsigned char)s[j])) j++;
        return j;
    } else return -1;
    if (i + 1 >= end) return -1;
    const char *q = memchr(s + i + 1, close, (size_t)(end - i - 1));
    if (q == NULL || q == s + i + 1) return -1;
    return (q - s) + 1;
}

/* _NAME = _PART(?:\._PART)* at i within s[0:end] (greedy): its end or -1. */
static Py_ssize_t match_name(const char *s, Py_ssize_t i, Py_ssize_t end) {
    Py_ssize_t e = match_part(s, i, end);
    if (e < 0) return -1;
    while (e < end && s[e] == '.') {
        Py_ssize_t e2 = match_part(s, e + 1, end);
        if (e2 < 0) break;
        e = e2;
    }
    return e;
}

/* _ALIAS = (?:\s+(?:as\s+)?(?!stop\b)\w+)? at i: its end (i when it matches empty). The \s+ runs
 * are maximal (what follows them is a word character); `as\s+` is tried first, then without. */
static Py_ssize_t match_alias(const char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t j = skip_ws(s, i, n);
    if (j == i) return i;
    if (ci_at(s, n, j, "as", 2) && j + 2 < n && k_isspace((unsigned char)s[j + 2])) {
        Py_ssize_t k = skip_ws(s, j + 2, n);
        if (k < n && k_isword((unsigned char)s[k]) && !alias_stop_at(s, n, k)) return skip_word(s, k, n);
    }
    if (j < n && k_isword((unsigned char)s[j]) && !alias_stop_at(s, n, j)) return skip_word(s, j, n);
    return i;
}

/* Group 2 of _FROM_JOIN at i: _NAME _ALIAS (?:\s*,\s*_NAME _ALIAS)*; its end or -1. */
static Py_ssize_t match_from_list(const char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t e = match_name(s, i, n);
    if (e < 0) return -1;
    e = match_alias(s, n, e);
    for (;;) {
        Py_ssize_t j = skip_ws(s, e, n);
        if (j >= n || s[j] != ',') break;
        Py_ssize_t k = skip_ws(s, j + 1, n);
        Py_ssize_t e2 = match_name(s, k, n);
        if (e2 < 0) break;
        e = match_alias(s, n, e2);
    }
    return e;
}

static inline int is_quote_char(unsigned char c) { return c == '`' || c == '"' || c == '[' || c == ']'; }

/* normalise_table(s[a:b]) as a span [*x, *y) of s (to be lower-cased).
 * _LAST_PART = {_PART}$ searched leftmost: the last character decides which alternative can end
 * the string, and for that alternative the leftmost start is computed directly. */
static void normalise_span(const char *s, Py_ssize_t a, Py_ssize_t b, Py_ssize_t *x, Py_ssize_t *y) {
    while (a < b && k_isspace((unsigned char)s[a])) a++;  /* name.strip() */
    while (b > a && k_isspace((unsigned char)s[b - 1])) b--;
    Py_ssize_t start = -1;
    if (b > a) {
        unsigned char last = (unsigned char)s[b - 1];
        if (is_part_char(last)) {
            start = b - 1;
            while (start > a && is_part_char((unsigned char)s[start - 1])) start--;
        } else if (last == '`' || last == '"') {
            /* the only opening candidate is the previous such quote; [^q]+ needs one character */
            Py_ssize_t q = b - 2;
            while (q >= a && (unsigned char)s[q] != last) q--;
            if (q >= a && q < b - 2) start = q;
        } else if (last == ']') {
            /* leftmost '[' after the previous ']' with at least one character before the end */
            Py_ssize_t r = b - 2;
            while (r >= a && s[r] != ']') r--;
            for (Py_ssize_t q = r + 1; q <= b - 3; q++)
                if (s[q] == '[') { start = q; break; }
        }
    }
    if (start < 0) {
        /* no _LAST_PART match: name.strip().rsplit(".", 1)[-1] */
        start = b;
        while (start > a && s[start - 1] != '.') start--;
    }
    /* .strip("`\"[]") */
    while (start < b && is_quote_char((unsigned char)s[start])) start++;
    while (b > start && is_quote_char((unsigned char)s[b - 1])) b--;
    *x = start;
    *y = b;
}

#define MAX_CTES 64
typedef struct {
    Py_ssize_t a, b;
} Span;

static int ci_span_eq(const char *s, Span u, Span v) {
    if (u.b - u.a != v.b - v.a) return 0;
    for (Py_ssize_t k = 0; k < u.b - u.a; k++)
        if (k_lower((unsigned char)s[u.a + k]) != k_lower((unsigned char)s[v.a + k])) return 0;
    return 1;
}

/* The rest of _CTE after `with[ recursive]` or `,`: \s*([`"\[]?\w+[`"\]]?)\s+as\s*\( at i.
 * Each optional quote is decided by its character (the other path needs a word character or
 * whitespace there), \w+ is maximal (a shorter run leaves a word character next). Returns the end
 * and the \w+ span (normalise_table of the group is always the lower-cased \w+). */
static Py_ssize_t cte_rest(const char *s, Py_ssize_t n, Py_ssize_t i, Span *name) {
    Py_ssize_t j = skip_ws(s, i, n);
    if (j < n && (s[j] == '`' || s[j] == '"' || s[j] == '[')) j++;
    Py_ssize_t w = j;
    j = skip_word(s, j, n);
    if (j == w) return -1;
    name->a = w;
    name->b = j;
    if (j < n && (s[j] == '`' || s[j] == '"' || s[j] == ']')) j++;
    Py_ssize_t k = skip_ws(s, j, n);
    if (k == j || !ci_at(s, n, k, "as", 2)) return -1;
    k = skip_ws(s, k + 2, n);
    if (k >= n || s[k] != '(') return -1;
    return k + 1;
}

/* _CTE.finditer: the names of every match (a fixed table; K_FALLBACK when it overflows). */
static int find_ctes(const char *s, Py_ssize_t n, Span *ctes, int *count) {
    int c = 0;
    Py_ssize_t p = 0;
    while (p < n) {
        unsigned char ch = (unsigned char)s[p];
        Py_ssize_t e = -1;
        Span name;
        if (ch == ',') {
            e = cte_rest(s, n, p + 1, &name);
        } else if ((ch | 32) == 'w' && word_starts(s, p) && ci_at(s, n, p, "with", 4)) {
            Py_ssize_t j = skip_ws(s, p + 4, n);
            if (j > p + 4 && ci_at(s, n, j, "recursive", 9)) e = cte_rest(s, n, j + 9, &name);
            if (e < 0) e = cte_rest(s, n, p + 4, &name);
        }
        if (e < 0) {
            p++;
            continue;
        }
        int dup = 0;
        for (int k = 0; k < c && !dup; k++) dup = ci_span_eq(s, ctes[k], name);
        if (!dup) {
            if (c == MAX_CTES) return K_FALLBACK;
            ctes[c++] = name;
        }
        p = e;
    }
    *count = c;
    return K_OK;
}

/* _FUNC_FROM.search(sql, lo, hi): \b(extract|trim|substring|overlay|position)\s*\([^()]*$ with the
 * string seen as ending at hi. Only the last parenthesis of [lo, hi) can be the '(' (no parenthesis
 * may follow it); the keyword ends where the whitespace before it starts and must start at >= lo. */
static int func_from(const char *s, Py_ssize_t lo, Py_ssize_t hi) {
    static const struct { const char *w; int n; } F[] = {
        {"extract", 7}, {"trim", 4}, {"substring", 9}, {"overlay", 7}, {"position", 8},
    };
    Py_ssize_t q = hi - 1;
    while (q >= lo && s[q] != '(' && s[q] != ')') q--;
    if (q < lo || s[q] != '(') return 0;
    Py_ssize_t t = q;
    while (t > lo && k_isspace((unsigned char)s[t - 1])) t--;
    for (size_t k = 0; k < sizeof F / sizeof F[0]; k++) {
        Py_ssize_t st = t - F[k].n;
        if (st >= lo && ci_eq(s + st, F[k].w, F[k].n) && word_starts(s, st)) return 1;
    }
    return 0;
}

/* The cheap path: _SIMPLE.findall = \b(?:from|join)\s+([A-Za-z_][\w$]*)\b(?!\s*[.,(]).
 * [\w$]* backtracks from the longest run: the longest end with \b and the lookahead passing wins
 * (inside the run the lookahead always passes: the next character is [\w$]). */
static int tables_simple(const char *s, Py_ssize_t n, Py_ssize_t p, KNames *out) {
    while (p + 4 < n) {
        if (!from_or_join(s, p) || !word_starts(s, p)) {
            p++;
            continue;
        }
        Py_ssize_t q = skip_ws(s, p + 4, n);
        unsigned char c = q < n ? (unsigned char)s[q] : 0;
        if (q == p + 4 || q >= n || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')) {
            p++;
            continue;
        }
        Py_ssize_t e = q + 1;
        while (e < n && (k_isword((unsigned char)s[e]) || s[e] == '$')) e++;
        Py_ssize_t end = -1;
        for (Py_ssize_t x = e; x > q; x--) {
            if (!at_boundary(s, x, n)) continue;
            if (x == e) {
                Py_ssize_t t = skip_ws(s, x, n);
                if (t < n && (s[t] == '.' || s[t] == ',' || s[t] == '(')) continue;
            }
            end = x;
            break;
        }
        if (end < 0) {
            p++;
            continue;
        }
        if (!is_name_keyword(s + q, end - q)) {
            int rc = names_add(out, s + q, end - q);
            if (rc != K_OK) return rc;
        }
        p = end;
    }
    return K_OK;
}

int sql_tables(const char *s, Py_ssize_t n, KNames *out) {
    /* one pass for the substring tests of tables_in ("from" in low, the functions, ...) */
    Py_ssize_t first_from = -1, first_join = -1;
    int has_with = 0, has_func = 0;
    for (Py_ssize_t i = 0; i + 4 <= n; i++) {
        uint32_t w = lower4(s + i);
        uint32_t h = SLOT_OF(w);
        if (w != SLOT_WORD[h]) continue;
        switch (h) {
        case S_FROM:
            if (first_from < 0) first_from = i;
            break;
        case S_JOIN:
            if (first_join < 0) first_join = i;
            break;
        case S_WITH:
            has_with = 1;
            break;
        case S_TRIM:
            has_func = 1;
            break;
        case S_EXTR:
            has_func |= ci_at(s, n, i + 4, "act", 3);
            break;
        case S_SUBS:
            has_func |= ci_at(s, n, i + 4, "tring", 5);
            break;
        case S_OVER:
            has_func |= ci_at(s, n, i + 4, "lay", 3);
            break;
        case S_POSI:
            has_func |= ci_at(s, n, i + 4, "tion", 4);
            break;
        }
    }
    if (first_from < 0 && first_join < 0) return K_OK;
    /* no from / join match can start before the first "from" or "join" */
    Py_ssize_t start = first_from < 0 ? first_join : first_join < 0 ? first_from
                     : first_from < first_join ? first_from : first_join;
    /* clause = low[low.find("from"):]; find() == -1 gives the last character */
    Py_ssize_t clause = first_from >= 0 ? first_from : (n > 0 ? n - 1 : 0);
    if (!has_func && !has_with) {
        int hint = 0;
        for (Py_ssize_t i = clause; i < n && !hint; i++) {
            char c = s[i];
            hint = c == ',' || c == '"' || c == '`' || c == '[' || c == '.';
        }
        if (!hint) return tables_simple(s, n, start, out);
    }

    Span ctes[MAX_CTES];
    int n_ctes = 0;
    if (has_with && find_ctes(s, n, ctes, &n_ctes) != K_OK) return K_FALLBACK;

    int n0 = out->n;
    size_t buf0 = out->buf_n;
    Py_ssize_t p = start;
    while (p + 4 < n) {
        int kind = from_or_join(s, p), is_from = kind == 1;
        if (!kind || !word_starts(s, p)) {
            p++;
            continue;
        }
        /* \s+(?!\() then group 2 */
        Py_ssize_t j = skip_ws(s, p + 4, n);
        Py_ssize_t e = -1;
        if (j > p + 4 && j < n && s[j] != '(') e = match_from_list(s, n, j);
        if (e < 0) {
            p++;
            continue;
        }
        if (has_func && is_from && func_from(s, p > 200 ? p - 200 : 0, p)) {
            p = e;
            continue;
        }
        /* m.group(2).split(","): each part stripped, _FIRST_NAME.match, normalise_table */
        Py_ssize_t a = j;
        while (a <= e) {
            Py_ssize_t b = a;
            while (b < e && s[b] != ',') b++;
            Py_ssize_t ps = skip_ws(s, a, b), pe = b;
            while (pe > ps && k_isspace((unsigned char)s[pe - 1])) pe--;
            Py_ssize_t t = match_name(s, ps, pe);
            if (t > ps) {
                Py_ssize_t x, y;
                normalise_span(s, ps, t, &x, &y);
                Span name = {x, y};
                int skip = y == x || k_isdigit((unsigned char)s[x]) || is_name_keyword(s + x, y - x);
                for (int k = 0; k < n_ctes && !skip; k++) skip = ci_span_eq(s, ctes[k], name);
                if (!skip) {
                    int rc = names_add(out, s + x, y - x);
                    if (rc != K_OK) {
                        out->n = n0;
                        out->buf_n = buf0;
                        return rc;
                    }
                }
            }
            a = b + 1;
        }
        p = e;
    }
    return K_OK;
}

/* ---------------------------------------------------------------- looks_like_error */

static inline int in_error_lead_class(unsigned char c) {  /* [\w' -] */
    return k_isword(c) || c == '\'' || c == ' ' || c == '-';
}

/* _ERROR_START.match(content), IGNORECASE. After \s* (the leading whitespace run, k characters)
 * every alternative but the last starts with a character \s does not match, so they start at k.
 * The last, [\w' -]{0,40}\bnot found\b, may start anywhere in [0, k] (' ' is in its class): for a
 * "not found" at p it needs a start i with max(run start, p - 40) <= i <= min(k, p). */
static int error_start(const char *s, Py_ssize_t n) {
    Py_ssize_t k = skip_ws(s, 0, n);
    if (k < n) {
        const char *t = s + k;
        Py_ssize_t m = n - k;
        unsigned char c = k_lower((unsigned char)t[0]);
#define LIT_B(lit) (ci_at(t, m, 0, lit, (Py_ssize_t)sizeof(lit) - 1) && word_ends(t, (Py_ssize_t)sizeof(lit) - 1, m))
#define LIT(lit) ci_at(t, m, 0, lit, (Py_ssize_t)sizeof(lit) - 1)
        switch (c) {
        case 'e':
            if (LIT_B("error") || LIT_B("exception")) return 1;
            break;
        case 'i':
            if (LIT_B("invalid")) return 1;
            break;
        case 'f':
            if (LIT_B("failed") || LIT_B("failure")) return 1;
            break;
        case 'c':
            if (LIT_B("could not") || LIT_B("cannot")) return 1;
            break;
        case 'u':
            if (LIT_B("unable to")) return 1;
            if (LIT("unknown ")) {
                const char *u = t + 8;
                Py_ssize_t um = m - 8;
                if ((ci_at(u, um, 0, "tool", 4) && word_ends(u, 4, um)) ||
                    (ci_at(u, um, 0, "function", 8) && word_ends(u, 8, um)) ||
                    (ci_at(u, um, 0, "table", 5) && word_ends(u, 5, um)) ||
                    (ci_at(u, um, 0, "column", 6) && word_ends(u, 6, um)))
                    return 1;
            }
            break;
        case 'p':
            if (LIT("permission denied")) return 1;
            break;
        case 'n':
            if (LIT_B("no such")) return 1;
            break;
        }
#undef LIT
#undef LIT_B
        /* [\w.]*(?:error|exception)\s*: -- the [\w.] run from k must end with the word (the
         * character after the word is \s or ':', outside [\w.]) */
        Py_ssize_t e = k;
        while (e < n && (k_isword((unsigned char)s[e]) || s[e] == '.')) e++;
        if ((e - k >= 5 && ci_eq(s + e - 5, "error", 5)) || (e - k >= 9 && ci_eq(s + e - 9, "exception", 9))) {
            Py_ssize_t x = skip_ws(s, e, n);
            if (x < n && s[x] == ':') return 1;
        }
    }
    /* [\w' -]{0,40}\bnot found\b */
    Py_ssize_t lim = k + 40;
    for (Py_ssize_t p = 0; p <= lim && p + 9 <= n; p++) {
        if ((s[p] | 32) != 'n' || !ci_eq(s + p, "not found", 9)) continue;
        if (!word_starts(s, p) || !word_ends(s, p + 9, n)) continue;
        /* run = max(start of the [\w' -] run ending at p, p - 40, 0) */
        Py_ssize_t lo = p - 40 > 0 ? p - 40 : 0;
        Py_ssize_t run = p;
        while (run > lo && in_error_lead_class((unsigned char)s[run - 1])) run--;
        if (run <= (k < p ? k : p)) return 1;
    }
    return 0;
}

/* _ERROR_KEY.search(content, 0, 2000) (case-sensitive), the string seen as ending at 2000:
 * ['"]error['"]\s*:(?!\s*(?:None\b|null\b|False\b|false\b|""|''|\[\]|\{\})) */
static int error_key(const char *s, Py_ssize_t n) {
    Py_ssize_t end = n < 2000 ? n : 2000;
    for (Py_ssize_t p = 0; p + 8 <= end; p++) {
        if ((s[p] != '"' && s[p] != '\'') || memcmp(s + p + 1, "error", 5) != 0) continue;
        if (s[p + 6] != '"' && s[p + 6] != '\'') continue;
        Py_ssize_t q = skip_ws(s, p + 7, end);
        if (q >= end || s[q] != ':') continue;
        Py_ssize_t t = skip_ws(s, q + 1, end);
        int excluded = 0;
        if (t < end) {
            switch (s[t]) {
            case 'N': excluded = cs_at(s, end, t, "None", 4) && word_ends(s, t + 4, end); break;
            case 'n': excluded = cs_at(s, end, t, "null", 4) && word_ends(s, t + 4, end); break;
            case 'F': excluded = cs_at(s, end, t, "False", 5) && word_ends(s, t + 5, end); break;
            case 'f': excluded = cs_at(s, end, t, "false", 5) && word_ends(s, t + 5, end); break;
            case '"': excluded = cs_at(s, end, t, "\"\"", 2); break;
            case '\'': excluded = cs_at(s, end, t, "''", 2); break;
            case '[': excluded = cs_at(s, end, t, "[]", 2); break;
            case '{': excluded = cs_at(s, end, t, "{}", 2); break;
            }
        }
        if (!excluded) return 1;
    }
    return 0;
}

int looks_like_error(const char *s, Py_ssize_t n) {
    if (n <= 0) return 0;
    if (error_start(s, n)) return 1;
    Py_ssize_t h = skip_ws(s, 0, n);
    if (h < n && s[h] == '{' && error_key(s, n)) return 1;
    static const char tb[] = "Traceback (most recent call last)";
    return cs_find(s, n, tb, (Py_ssize_t)sizeof tb - 1) >= 0;
}

/* ---------------------------------------------------------------- marked_answer */

/* _BOXED = \\boxed\{((?:[^{}]|\{[^{}]*\})*)\} at p (s[p:p+7] == "\boxed{"): the end of group 1 or
 * -1. The star is deterministic (a '{' only starts a group closed before any other brace), and
 * giving back iterations never helps: every iteration starts with a character that is not '}'. */
static Py_ssize_t boxed_body(const char *s, Py_ssize_t n, Py_ssize_t i) {
    while (i < n) {
        char c = s[i];
        if (c == '}') return i;
        if (c == '{') {
            Py_ssize_t j = i + 1;
            while (j < n && s[j] != '{' && s[j] != '}') j++;
            if (j >= n || s[j] != '}') return -1;
            i = j + 1;
        } else {
            i++;
        }
    }
    return -1;
}

KStr marked_answer(const char *s, Py_ssize_t n) {
    KStr r = {s, n};
    /* _BOXED.findall(text)[-1] */
    int found = 0;
    Py_ssize_t pos = 0;
    for (;;) {
        Py_ssize_t p = cs_find(s + pos, n - pos, "\\boxed{", 7);
        if (p < 0) break;
        p += pos;
        Py_ssize_t e = boxed_body(s, n, p + 7);
        if (e < 0) {
            pos = p + 1;
            continue;
        }
        r.p = s + p + 7;
        r.n = e - (p + 7);
        found = 1;
        pos = e + 1;
    }
    if (found) return r;
    /* _MARKED.findall(text)[-1]: (?:final answer|final results?|answer)\s*(?:is|:|=)\s*(.+),
     * IGNORECASE. A match at "final answer" has the same group and end as the one at its "answer",
     * so scanning the "answer"s and "final result"s in order finds the same matches. After "final
     * result" an 's' is taken when there is one: without it the match cannot go on (\s*, then
     * "is", ':' or '=', none of which starts with 's'). */
    pos = 0;
    Py_ssize_t next_answer = -2, next_result = -2;  /* -2: not looked for since pos moved past it */
    while (pos < n) {
        if (next_answer != -1 && next_answer < pos) {
            next_answer = ci_find(s + pos, n - pos, "answer", 6);
            if (next_answer >= 0) next_answer += pos;
        }
        if (next_result != -1 && next_result < pos) {
            next_result = ci_find(s + pos, n - pos, "final result", 12);
            if (next_result >= 0) next_result += pos;
        }
        if (next_answer < 0 && next_result < 0) break;
        Py_ssize_t a, k;
        if (next_result < 0 || (next_answer >= 0 && next_answer < next_result)) {
            a = next_answer;
            k = a + 6;
        } else {
            a = next_result;
            k = a + 12;
            if (k < n && (s[k] | 0x20) == 's') k++;
        }
        Py_ssize_t j = skip_ws(s, k, n), q;
        if (ci_at(s, n, j, "is", 2)) q = j + 2;
        else if (j < n && (s[j] == ':' || s[j] == '=')) q = j + 1;
        else {
            pos = a + 1;
            continue;
        }
        Py_ssize_t t = skip_ws(s, q, n);
        if (t >= n || s[t] == '\n') {
            /* \s* gives back: .+ starts at the last non-newline whitespace of the run */
            t--;
            while (t >= q && s[t] == '\n') t--;
            if (t < q) {
                pos = a + 1;
                continue;
            }
        }
        Py_ssize_t e = t + 1;
        const char *nl = memchr(s + e, '\n', (size_t)(n - e));
        e = nl ? nl - s : n;
        r.p = s + t;
        r.n = e - t;
        found = 1;
        pos = e;
    }
    if (found) return r;
    r.p = s;
    r.n = n;
    return r;
}

/* ---------------------------------------------------------------- non-ASCII characters */

/* The code point at s[*i] (valid UTF-8: json.c checked it; the first byte >= 0x80); *i moves past it. */
static Py_UCS4 utf8_next(const char *s, Py_ssize_t *i) {
    const unsigned char *p = (const unsigned char *)s + *i;
    if (p[0] < 0xE0) {
        *i += 2;
        return ((Py_UCS4)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    }
    if (p[0] < 0xF0) {
        *i += 3;
        return ((Py_UCS4)(p[0] & 0x0F) << 12) | ((Py_UCS4)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    }
    *i += 4;
    return ((Py_UCS4)(p[0] & 0x07) << 18) | ((Py_UCS4)(p[1] & 0x3F) << 12) | ((Py_UCS4)(p[2] & 0x3F) << 6) |
           (p[3] & 0x3F);
}

enum { U_REFUSED = 0, U_WORD = 1, U_OTHER = 2 };

/* What a non-ASCII character is to the patterns the kernel reproduces. Python's re (str patterns)
 * tests \w, \d and \s with Py_UNICODE_ISALNUM, ISDECIMAL and ISSPACE, and under IGNORECASE
 * compares Py_UNICODE_TOLOWER of the character, plus re._casefix._EXTRA_CASES (whose only pairs
 * with an ASCII letter are i ~ U+0131 and s ~ U+017F); str.isdigit is ISDIGIT, str.strip and split
 * ISSPACE. So a letter or digit-less alphanumeric whose lower case is not ASCII matches every
 * pattern here exactly as '_' does (\w, no literal, no [a-z], not a digit), and any other
 * character that is neither a space nor U+2212 (NUMBER's minus sign) exactly as '\x01' does.
 * The rest (spaces, digits, U+2212, letters tied to ASCII by case) have no stand-in. */
static int uclass(Py_UCS4 c) {
    if (Py_UNICODE_ISSPACE(c) || Py_UNICODE_ISDECIMAL(c) || Py_UNICODE_ISDIGIT(c)) return U_REFUSED;
    if (c == 0x2212 || c == 0x131 || c == 0x17F || Py_UNICODE_TOLOWER(c) < 0x80) return U_REFUSED;
    return Py_UNICODE_ISALNUM(c) ? U_WORD : U_OTHER;
}

Py_ssize_t stand_in(const char *s, Py_ssize_t n, char *out) {
    Py_ssize_t o = 0, i = 0;
    while (i < n) {
        Py_ssize_t j = i;  /* ASCII stands for itself: copy the run */
        while (j < n && (unsigned char)s[j] < 0x80) j++;
        memcpy(out + o, s + i, (size_t)(j - i));
        o += j - i;
        i = j;
        if (i == n) break;
        switch (uclass(utf8_next(s, &i))) {
        case U_WORD: out[o++] = '_'; break;
        case U_OTHER: out[o++] = '\x01'; break;
        default: return -1;
        }
    }
    return o;
}

KStr text_strip(KStr s) {
    const unsigned char *p = (const unsigned char *)s.p;
    Py_ssize_t a = 0, b = s.n;
    while (a < b) {  /* leading whitespace */
        if (p[a] < 0x80) {
            if (!k_isspace(p[a])) break;
            a++;
        } else {
            Py_ssize_t i = a;
            Py_UCS4 c = utf8_next(s.p, &i);  /* not inside the macro: it reads its argument twice */
            if (!Py_UNICODE_ISSPACE(c)) break;
            a = i;
        }
    }
    while (b > a) {  /* trailing whitespace: back to the lead byte of the last character */
        Py_ssize_t i = b - 1;
        while (i > a && (p[i] & 0xC0) == 0x80) i--;
        Py_ssize_t j = i;
        Py_UCS4 c = p[i] < 0x80 ? p[i] : utf8_next(s.p, &j);
        if (!(c < 0x80 ? k_isspace((unsigned char)c) : Py_UNICODE_ISSPACE(c))) break;
        b = i;
    }
    KStr r = {s.p + a, b - a};
    return r;
}

Py_ssize_t text_lower(const char *s, Py_ssize_t n, char *out) {
    Py_ssize_t o = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[o++] = (char)k_lower(c);
            i++;
            continue;
        }
        Py_UCS4 cp = utf8_next(s, &i);
        if (cp == 0x130 || cp == 0x3A3) return -1;
        Py_UCS4 lc = Py_UNICODE_TOLOWER(cp);
        if (lc < 0x80) out[o++] = (char)lc;
        else o += k_utf8_put(out + o, lc);
    }
    return o;
}

/* ---------------------------------------------------------------- _normal_text */

/* One character of s for _normal_text, at s[*i] (*i moves past it): its lower case (str.lower:
 * the simple mapping, the full one differing only for U+0130, which has no stand-in) in *lc, and
 * 1 when that is \w, 0 when not, -1 when the kernel does not reproduce it (no stand-in, or U+03A3,
 * whose lower case depends on the letters around it). */
static int nt_char(const char *s, Py_ssize_t *i, Py_UCS4 *lc) {
    unsigned char c = (unsigned char)s[*i];
    if (c < 0x80) {
        (*i)++;
        *lc = k_lower(c);
        return k_isword(c);
    }
    Py_UCS4 cp = utf8_next(s, i);
    if (uclass(cp) == U_REFUSED || cp == 0x3A3) return -1;
    *lc = Py_UNICODE_TOLOWER(cp);
    return Py_UNICODE_ISALNUM(*lc) ? 1 : 0;
}

/* " ".join(_ARTICLES.sub(" ", _NOT_WORDS.sub(" ", text.lower())).split()).strip(" .")
 * _NOT_WORDS turns every run of [^\w%.] and of '.' not between two digits into a space;
 * _ARTICLES then blanks every maximal \w run that is "the", "a" or "an" (\b on both sides of a
 * word-only match means the whole run). What is left is pieces of [\w%.] joined by single spaces,
 * then stripped of spaces and dots at both ends.
 * Lower-cased non-ASCII characters are never ASCII (nt_char), so only all-ASCII runs can be
 * articles, and byte comparison finds them. */
Py_ssize_t normal_text(const char *s, Py_ssize_t n, char *out) {
    Py_ssize_t o = 0, i = 0;
    int sep = 0;
    while (i < n) {
        Py_ssize_t at = i;
        Py_UCS4 lc;
        int w = nt_char(s, &i, &lc);
        if (w < 0) return -1;
        if (!w) {
            if (lc == '.') {  /* _NOT_WORDS: a '.' is kept between two digits only (a decimal point) */
                unsigned char before = at > 0 ? (unsigned char)s[at - 1] : ' ', after = i < n ? (unsigned char)s[i] : ' ';
                /* a byte above ASCII is no digit: nt_char refuses the digits beyond ASCII */
                if (!(before >= '0' && before <= '9' && after >= '0' && after <= '9')) {
                    sep = 1;
                    continue;
                }
            }
            if (lc == '%' || lc == '.') {
                if (sep && o > 0) out[o++] = ' ';
                sep = 0;
                out[o++] = (char)lc;
            } else {
                sep = 1;
            }
            continue;
        }
        Py_ssize_t j = i;  /* the end of the \w run starting at `at` */
        while (j < n) {
            Py_ssize_t k = j;
            Py_UCS4 x;
            int ww = nt_char(s, &k, &x);
            if (ww < 0) return -1;
            if (!ww) break;
            j = k;
        }
        Py_ssize_t len = j - at;
        int article = (len == 1 && (s[at] | 32) == 'a') || (len == 2 && ci_eq(s + at, "an", 2)) ||
                      (len == 3 && ci_eq(s + at, "the", 3));
        if (article) {
            sep = 1;
        } else {
            if (sep && o > 0) out[o++] = ' ';
            sep = 0;
            for (Py_ssize_t k = at; k < j;) {
                nt_char(s, &k, &lc);
                if (lc < 0x80) out[o++] = (char)lc;
                else o += k_utf8_put(out + o, lc);
            }
        }
        i = j;
    }
    Py_ssize_t a = 0, b = o;
    while (a < b && (out[a] == ' ' || out[a] == '.')) a++;
    while (b > a && (out[b - 1] == ' ' || out[b - 1] == '.')) b--;
    if (a > 0 && b > a) memmove(out, out + a, (size_t)(b - a));
    o = b - a;
    out[o] = '\0';
    return o;
}

#ifdef RUBRICATE_KERNEL_DEBUG  /* test builds only (scripts/build-kernel.sh --debug) */
/* ---------------------------------------------------------------- debug shims */

static const char *ascii_arg(PyObject *arg, Py_ssize_t *n) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "expected str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(arg)) {
        PyErr_SetString(PyExc_ValueError, "the kernel handles ASCII text only");
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(arg, n);
}

/* str -> frozenset of tables_in(str), None for K_FALLBACK. For the tests of KNames, also
 * list[str] -> tuple of the names sql_tables appends for every statement into ONE KNames (in
 * order, so a duplicate would show), None when any statement falls back. */
PyObject *kdebug_tables(PyObject *self, PyObject *arg) {
    int many = PyList_Check(arg);
    Py_ssize_t count = many ? PyList_GET_SIZE(arg) : 1;
    KNames v;
    names_init(&v);
    int rc = K_OK;
    for (Py_ssize_t i = 0; i < count && rc == K_OK; i++) {
        Py_ssize_t n;
        const char *s = ascii_arg(many ? PyList_GET_ITEM(arg, i) : arg, &n);
        if (s == NULL) {
            names_free(&v);
            return NULL;
        }
        rc = sql_tables(s, n, &v);
    }
    PyObject *result = NULL;
    if (rc == K_FALLBACK) {
        result = Py_NewRef(Py_None);
    } else if (rc == K_OK && many) {
        result = PyTuple_New(v.n);
        for (int i = 0; result != NULL && i < v.n; i++) {
            PyObject *name = PyUnicode_FromStringAndSize(v.items[i].p, v.items[i].n);
            if (name == NULL) Py_CLEAR(result);
            else PyTuple_SET_ITEM(result, i, name);
        }
    } else if (rc == K_OK) {
        result = PyFrozenSet_New(NULL);
        for (int i = 0; result != NULL && i < v.n; i++) {
            PyObject *name = PyUnicode_FromStringAndSize(v.items[i].p, v.items[i].n);
            if (name == NULL || PySet_Add(result, name) < 0) Py_CLEAR(result);
            Py_XDECREF(name);
        }
    }
    names_free(&v);
    return result;
}

PyObject *kdebug_looks_like_error(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *s = ascii_arg(arg, &n);
    if (s == NULL) return NULL;
    return PyBool_FromLong(looks_like_error(s, n));
}

PyObject *kdebug_marked_answer(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *s = ascii_arg(arg, &n);
    if (s == NULL) return NULL;
    KStr r = marked_answer(s, n);
    return PyUnicode_FromStringAndSize(r.p, r.n);
}

PyObject *kdebug_normal_text(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *s = ascii_arg(arg, &n);
    if (s == NULL) return NULL;
    char *out = PyMem_Malloc((size_t)n + 1);
    if (out == NULL) return PyErr_NoMemory();
    Py_ssize_t m = normal_text(s, n, out);
    PyObject *r = PyUnicode_FromStringAndSize(out, m);
    PyMem_Free(out);
    return r;
}

/* The UTF-8 of a str (any text but lone surrogates). */
static const char *utf8_arg(PyObject *arg, Py_ssize_t *n) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "expected str");
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(arg, n);
}

PyObject *kdebug_normal_text_utf8(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *s = utf8_arg(arg, &n);
    if (s == NULL) return NULL;
    char *out = PyMem_Malloc(2 * (size_t)n + 1);
    if (out == NULL) return PyErr_NoMemory();
    Py_ssize_t m = normal_text(s, n, out);
    PyObject *r = m < 0 ? Py_NewRef(Py_None) : PyUnicode_DecodeUTF8(out, m, "strict");
    PyMem_Free(out);
    return r;
}

PyObject *kdebug_stand_in(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *s = utf8_arg(arg, &n);
    if (s == NULL) return NULL;
    char *out = PyMem_Malloc((size_t)n + 1);
    if (out == NULL) return PyErr_NoMemory();
    Py_ssize_t m = stand_in(s, n, out);
    PyObject *r = m < 0 ? Py_NewRef(Py_None) : PyUnicode_FromStringAndSize(out, m);
    PyMem_Free(out);
    return r;
}

/* str -> text.strip().lower() (text_strip, text_lower), None where text_lower declines. */
PyObject *kdebug_strip_lower(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *s = utf8_arg(arg, &n);
    if (s == NULL) return NULL;
    KStr t = text_strip((KStr){s, n});
    char *out = PyMem_Malloc(2 * (size_t)t.n + 1);
    if (out == NULL) return PyErr_NoMemory();
    Py_ssize_t m = text_lower(t.p, t.n, out);
    PyObject *r = m < 0 ? Py_NewRef(Py_None) : PyUnicode_DecodeUTF8(out, m, "strict");
    PyMem_Free(out);
    return r;
}

#endif  /* RUBRICATE_KERNEL_DEBUG */
