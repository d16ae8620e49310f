/* numbers.c: rubricate.rubrics._numbers (NUMBER, numbers, quantities, id_tail_at,
 * Number.candidates, candidate_values, close, NumberPool) and grounded_answer's _number_at, exactly
 * (see kernel.h).
 *
 * NUMBER is matched by a hand-written scanner that reproduces Python re's finditer on ASCII text,
 * including what backtracking makes of it:
 *   (?<![\w.,])-?\$?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
 *   (\s?%|\s?percent\b)?(?:\s?(thousand|million|billion|trillion)\b|(bn|mn|tn|[kmb])(?![a-z]))?
 * with IGNORECASE. Everything after the number is optional, so the first alternative of `num` that
 * matches is the one re keeps; \d{1,3}(?:,\d{3})+ only matches a run of 1-3 digits followed by
 * ",ddd" (a longer run makes every \d{1,3} split fail on the next digit). A failed start moves on by
 * one character and a match resumes the scan at its end (a match is never empty).
 *
 * Values: float() of the digits without commas, i.e. correctly rounded: an exact fast path
 * (mantissa <= 2^53, <= 22 decimals: one correctly rounded division) and otherwise
 * PyOS_string_to_double, the very function float(str) uses (the slow path needs the GIL, which the
 * kernel holds throughout).
 *
 * Floats: numpy's float64 ufuncs and CPython's float ops are single IEEE operations; this file is
 * compiled with -ffp-contract=off so each expression below rounds exactly as they do. Every
 * expression keeps the Python/numpy evaluation order.
 */
#include "kernel.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ character classes */

static inline int is_block(unsigned char c) { return k_isword(c) || c == '.' || c == ','; }
static inline int is_alpha(unsigned char c) {
    unsigned char l = k_lower(c);
    return l >= 'a' && l <= 'z';
}
static inline int is_start(unsigned char c) { return k_isdigit(c) || c == '-' || c == '$' || c == '.'; }

/* `word` (lower case, length m) at s[at:] ignoring case, followed by \b (the word ends in a letter,
 * so \b means: end of text or a non-word character next). */
static inline int word_at(const char *s, Py_ssize_t n, Py_ssize_t at, const char *word, Py_ssize_t m) {
    if (at + m > n) return 0;
    for (Py_ssize_t k = 0; k < m; k++)
        if (k_lower((unsigned char)s[at + k]) != (unsigned char)word[k]) return 0;
    return at + m == n || !k_isword((unsigned char)s[at + m]);
}

/* (thousand|million|billion|trillion)\b at s[at:]: its length (scale in *scale), or 0. */
static Py_ssize_t unit_word(const char *s, Py_ssize_t n, Py_ssize_t at, double *scale) {
    if (at >= n) return 0;
    switch (k_lower((unsigned char)s[at])) {
    case 't':
        if (word_at(s, n, at, "thousand", 8)) { *scale = 1e3; return 8; }
        if (word_at(s, n, at, "trillion", 8)) { *scale = 1e12; return 8; }
        return 0;
    case 'm':
        if (word_at(s, n, at, "million", 7)) { *scale = 1e6; return 7; }
        return 0;
    case 'b':
        if (word_at(s, n, at, "billion", 7)) { *scale = 1e9; return 7; }
        return 0;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ the scanner */

typedef struct {
    Py_ssize_t start, end;          /* the whole match */
    Py_ssize_t num_start, num_end;  /* the `num` group */
    int neg, pct;
    double scale;
} NMatch;

static inline int comma_group(const char *s, Py_ssize_t n, Py_ssize_t q) {
    return q + 3 < n && s[q] == ',' && k_isdigit((unsigned char)s[q + 1]) &&
           k_isdigit((unsigned char)s[q + 2]) && k_isdigit((unsigned char)s[q + 3]);
}

/* NUMBER.match(s, i) given that the lookbehind holds at i. */
static int match_at(const char *s, Py_ssize_t n, Py_ssize_t i, NMatch *m) {
    Py_ssize_t p = i, q;
    int neg = 0;
    if (s[p] == '-') { neg = 1; p++; }
    if (p < n && s[p] == '$') p++;
    if (p >= n) return 0;
    Py_ssize_t ns = p;
    if (k_isdigit((unsigned char)s[p])) {
        q = p + 1;
        while (q < n && k_isdigit((unsigned char)s[q])) q++;
        if (q - p <= 3 && comma_group(s, n, q)) {
            do q += 4; while (comma_group(s, n, q));
        }
        if (q + 1 < n && s[q] == '.' && k_isdigit((unsigned char)s[q + 1])) {
            q += 2;
            while (q < n && k_isdigit((unsigned char)s[q])) q++;
        }
    } else if (s[p] == '.' && p + 1 < n && k_isdigit((unsigned char)s[p + 1])) {
        q = p + 2;
        while (q < n && k_isdigit((unsigned char)s[q])) q++;
    } else {
        /* backtracking (no '$', no '-') leaves `num` at '$' or '-': no match */
        return 0;
    }
    Py_ssize_t ne = q;
    int pct = 0;
    if (q < n) {
        int sp = k_isspace((unsigned char)s[q]);
        if (s[q] == '%') { q += 1; pct = 1; }
        else if (sp && q + 1 < n && s[q + 1] == '%') { q += 2; pct = 1; }
        else if (sp && word_at(s, n, q + 1, "percent", 7)) { q += 8; pct = 1; }
        else if (!sp && word_at(s, n, q, "percent", 7)) { q += 7; pct = 1; }
    }
    double scale = 1.0;
    if (q < n) {
        Py_ssize_t len;
        if (k_isspace((unsigned char)s[q])) {
            /* \s?word\b; with \s? empty neither a word nor an abbreviation starts with a space */
            if ((len = unit_word(s, n, q + 1, &scale)) != 0) q += 1 + len;
        } else if ((len = unit_word(s, n, q, &scale)) != 0) {
            q += len;
        } else {
            unsigned char c0 = k_lower((unsigned char)s[q]);
            unsigned char c1 = q + 1 < n ? k_lower((unsigned char)s[q + 1]) : 0;
            if ((c0 == 'b' || c0 == 'm' || c0 == 't') && c1 == 'n' &&
                !(q + 2 < n && is_alpha((unsigned char)s[q + 2]))) {
                scale = c0 == 'b' ? 1e9 : c0 == 'm' ? 1e6 : 1e12;
                q += 2;
            } else if ((c0 == 'k' || c0 == 'm' || c0 == 'b') && !(q + 1 < n && is_alpha((unsigned char)s[q + 1]))) {
                scale = c0 == 'k' ? 1e3 : c0 == 'm' ? 1e6 : 1e9;
                q += 1;
            }
        }
    }
    m->start = i;
    m->end = q;
    m->num_start = ns;
    m->num_end = ne;
    m->neg = neg;
    m->pct = pct;
    m->scale = scale;
    return 1;
}

/* The next match of NUMBER in s at or after pos (finditer's search); 0 when none is left.
 * A match holds a digit within its first four characters (-$.5), so only the positions from three
 * before each digit up to it are tried, in order: the others cannot match. */
static int next_match(const char *s, Py_ssize_t n, Py_ssize_t pos, NMatch *m) {
    Py_ssize_t i = pos;
    while (i < n) {
        Py_ssize_t d = i;
        while (d < n && !k_isdigit((unsigned char)s[d])) d++;
        if (d >= n) return 0;
        for (Py_ssize_t k = d - 3 > i ? d - 3 : i; k <= d; k++) {
            if (is_start((unsigned char)s[k]) && (k == 0 || !is_block((unsigned char)s[k - 1])) &&
                match_at(s, n, k, m))
                return 1;
        }
        i = d + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ values */

static const double POW10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* float(num.replace(",", "")) and the number of decimals shown. K_OK, or K_NOMEM with an error set. */
static int parse_num(const char *num, Py_ssize_t len, double *value, Py_ssize_t *decimals) {
    uint64_t mant = 0;
    int sig = 0;           /* significant digits taken into mant (stops counting past 20) */
    Py_ssize_t frac = 0, digits = 0;
    int dot = 0;
    for (Py_ssize_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)num[k];
        if (c == ',') continue;
        if (c == '.') { dot = 1; continue; }
        digits++;
        if (dot) frac++;
        unsigned d = c - '0';
        if (sig > 0 || d != 0) {
            if (sig < 19) mant = mant * 10 + d;
            if (sig < 20) sig++;
        }
    }
    *decimals = frac;
    if (sig <= 19 && mant <= ((uint64_t)1 << 53) && frac <= 22) {
        *value = frac ? (double)mant / POW10[frac] : (double)mant;
        return K_OK;
    }
    /* slow path: exactly what float(str) does */
    char stackbuf[128];
    char *buf = stackbuf;
    if (len + 1 > (Py_ssize_t)sizeof stackbuf) {
        buf = malloc((size_t)len + 1);
        if (buf == NULL) { PyErr_NoMemory(); return K_NOMEM; }
    }
    Py_ssize_t b = 0;
    for (Py_ssize_t k = 0; k < len; k++)
        if (num[k] != ',') buf[b++] = num[k];
    buf[b] = '\0';
    char *end = NULL;
    double v = PyOS_string_to_double(buf, &end, NULL);
    if (buf != stackbuf) free(buf);
    if (v == -1.0 && PyErr_Occurred()) return K_NOMEM;
    *value = v;
    return K_OK;
}

/* ------------------------------------------------------------------ numbers */

void numbers_init(KNumbers *v) {
    v->items = NULL;
    v->n = v->cap = 0;
}

void numbers_free(KNumbers *v) {
    free(v->items);
    numbers_init(v);
}

static int numbers_push(KNumbers *v, const KNumber *x) {
    if (v->n == v->cap) {
        if (v->cap > INT_MAX / 2) { PyErr_NoMemory(); return K_NOMEM; }
        int cap = v->cap ? v->cap * 2 : 16;
        KNumber *items = realloc(v->items, (size_t)cap * sizeof *items);
        if (items == NULL) { PyErr_NoMemory(); return K_NOMEM; }
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = *x;
    return K_OK;
}

/* The next number of s at or after *pos (text, value, decimals, scale, percent), like one step of
 * NUMBER.finditer: K_OK with *found 0 at the end; K_FALLBACK for a number with more than INT_MAX
 * decimals (a text over 2 GiB); K_NOMEM. */
static int next_number(const char *s, Py_ssize_t n, Py_ssize_t *pos, KNumber *x, int *found) {
    NMatch m;
    *found = 0;
    if (!next_match(s, n, *pos, &m)) return K_OK;
    Py_ssize_t dec;
    int rc = parse_num(s + m.num_start, m.num_end - m.num_start, &x->value, &dec);
    if (rc != K_OK) return rc;
    if (dec > INT_MAX) return K_FALLBACK;
    if (m.neg) x->value = -x->value;
    x->text.p = s + m.start;
    x->text.n = m.end - m.start;   /* the match never starts or ends with a space: strip() is a no-op */
    x->decimals = (int)dec;
    x->scale = m.scale;
    x->percent = m.pct;
    x->digits_end = m.num_end;
    *pos = m.end;
    *found = 1;
    return K_OK;
}

int numbers_find(const char *s, Py_ssize_t n, KNumbers *out) {
    Py_ssize_t pos = 0;
    KNumber x;
    int found, rc;
    while ((rc = next_number(s, n, &pos, &x, &found)) == K_OK && found)
        if ((rc = numbers_push(out, &x)) != K_OK) return rc;
    return rc;
}

/* ------------------------------------------------------------------ quantities
 * NOT_QUANTITY, matched as re.finditer does (ASCII text; IGNORECASE, MULTILINE):
 *   ^[ \t]*\d{1,3}[.)][ \t]                                     a list ordinal opening a line
 *   | (?<!\d)\d{4}-\d{1,2}-\d{1,2}(?!\d) | (?<!\d)\d{1,2}/\d{1,2}/\d{2,4}(?!\d)
 *   | (?<!\d)\d{4}/\d{1,2}/\d{1,2}(?!\d) | (?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)
 *   | \bMONTH\.?[ \t]+\d{1,2}(?:st|nd|rd|th)?\b(?:,?[ \t]+\d{4}\b)?
 *   | \b\d{1,2}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?MONTH\b(?:\.?,?[ \t]+\d{4}\b)?
 *   | \bMONTH\.?,?[ \t]+\d{4}\b
 * Each alternative is a function giving the end of its match at i, or -1; tried in this order.
 * What backtracking makes of them: the digit quantifiers, bounded by (?<!\d)/(?!\d), [.)/:-] or
 * \b, only match a whole run of digits of an allowed length; a MONTH is its longest form present
 * (every continuation needs a non-letter right after it, which a shorter form never has); the
 * optional parts hold or not by what follows them, with no second way to match. */

static inline int is_blank(unsigned char c) { return c == ' ' || c == '\t'; }

static inline Py_ssize_t digit_run(const char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t j = i;
    while (j < n && k_isdigit((unsigned char)s[j])) j++;
    return j - i;
}

static inline int prefix_at(const char *s, Py_ssize_t n, Py_ssize_t i, const char *word) {
    for (Py_ssize_t k = 0; word[k]; k++)
        if (i + k >= n || k_lower((unsigned char)s[i + k]) != (unsigned char)word[k]) return 0;
    return 1;
}

/* The longest form of a month name at s[i:] (ignoring case): its length, or 0. */
static Py_ssize_t month_at(const char *s, Py_ssize_t n, Py_ssize_t i) {
    static const char *forms[][3] = {
        {"january", "jan"}, {"february", "feb"}, {"march", "mar"}, {"april", "apr"}, {"may"}, {"june", "jun"},
        {"july", "jul"}, {"august", "aug"}, {"september", "sept", "sep"}, {"october", "oct"},
        {"november", "nov"}, {"december", "dec"},
    };
    for (size_t m = 0; m < sizeof forms / sizeof *forms; m++)
        for (int f = 0; f < 3 && forms[m][f] != NULL; f++)
            if (prefix_at(s, n, i, forms[m][f])) return (Py_ssize_t)strlen(forms[m][f]);
    return 0;
}

static inline int suffix_at(const char *s, Py_ssize_t n, Py_ssize_t i) {
    return prefix_at(s, n, i, "st") || prefix_at(s, n, i, "nd") || prefix_at(s, n, i, "rd") || prefix_at(s, n, i, "th");
}

/* (?:[.]?,?[ \t]+\d{4}\b)? after j: where the match ends. */
static Py_ssize_t year_after(const char *s, Py_ssize_t n, Py_ssize_t j, int dot) {
    Py_ssize_t k = j;
    if (dot && k < n && s[k] == '.') k++;
    if (k < n && s[k] == ',') k++;
    if (k >= n || !is_blank((unsigned char)s[k])) return j;
    while (k < n && is_blank((unsigned char)s[k])) k++;
    if (digit_run(s, n, k) == 4 && (k + 4 == n || !k_isword((unsigned char)s[k + 4]))) return k + 4;
    return j;
}

static Py_ssize_t alt_ordinal(const char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t j = i;
    while (j < n && is_blank((unsigned char)s[j])) j++;
    Py_ssize_t d = digit_run(s, n, j);
    if (d < 1 || d > 3) return -1;
    j += d;
    if (j + 1 < n && (s[j] == '.' || s[j] == ')') && is_blank((unsigned char)s[j + 1])) return j + 2;
    return -1;
}

/* _numbers.list_ordinal_at: the number whose digits start at s[start] opens its line as a list item
 * ("2. ", "3) "), the alternative above from the line's start. */
int number_is_list_ordinal(const char *s, Py_ssize_t n, Py_ssize_t start) {
    Py_ssize_t line = start, j;
    while (line > 0 && s[line - 1] != '\n') line--;
    for (j = line; j < start && is_blank((unsigned char)s[j]); j++) {}
    return j == start && alt_ordinal(s, n, line) >= 0;
}

/* (?<!\d) three runs of digits of lengths [lo, hi] joined by `sep`, (?!\d). */
static Py_ssize_t alt_runs(const char *s, Py_ssize_t n, Py_ssize_t i, char sep, const int lo[3], const int hi[3]) {
    Py_ssize_t j = i;
    for (int r = 0; r < 3; r++) {
        if (r) {
            if (j >= n || s[j] != sep) return -1;
            j++;
        }
        Py_ssize_t d = digit_run(s, n, j);
        if (d < lo[r] || d > hi[r]) return -1;
        j += d;
    }
    return j;
}

static Py_ssize_t alt_time(const char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t d = digit_run(s, n, i), j = i + d;
    if (d < 1 || d > 2 || j >= n || s[j] != ':' || digit_run(s, n, j + 1) != 2) return -1;
    j += 3;
    if (j < n && s[j] == ':' && digit_run(s, n, j + 1) == 2) return j + 3;
    return j;
}

static Py_ssize_t alt_month_day(const char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t m = month_at(s, n, i), j = i + m;
    if (m == 0) return -1;
    if (j < n && s[j] == '.') j++;
    if (j >= n || !is_blank((unsigned char)s[j])) return -1;
    while (j < n && is_blank((unsigned char)s[j])) j++;
    Py_ssize_t d = digit_run(s, n, j);
    if (d < 1 || d > 2) return -1;
    j += d;
    if (suffix_at(s, n, j) && (j + 2 == n || !k_isword((unsigned char)s[j + 2]))) j += 2;
    else if (j < n && k_isword((unsigned char)s[j])) return -1;
    return year_after(s, n, j, 0);
}

static Py_ssize_t alt_day_month(const char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t d = digit_run(s, n, i), j = i + d;
    if (d < 1 || d > 2) return -1;
    if (suffix_at(s, n, j) && j + 2 < n && is_blank((unsigned char)s[j + 2])) j += 2;
    if (j >= n || !is_blank((unsigned char)s[j])) return -1;
    while (j < n && is_blank((unsigned char)s[j])) j++;
    if (prefix_at(s, n, j, "of") && j + 2 < n && is_blank((unsigned char)s[j + 2])) {
        Py_ssize_t k = j + 2;
        while (k < n && is_blank((unsigned char)s[k])) k++;
        if (month_at(s, n, k)) j = k;
    }
    Py_ssize_t m = month_at(s, n, j);
    if (m == 0 || (j + m < n && k_isword((unsigned char)s[j + m]))) return -1;
    return year_after(s, n, j + m, 1);
}

static Py_ssize_t alt_month_year(const char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t m = month_at(s, n, i), j = i + m;
    if (m == 0) return -1;
    if (j < n && s[j] == '.') j++;
    if (j < n && s[j] == ',') j++;
    if (j >= n || !is_blank((unsigned char)s[j])) return -1;
    while (j < n && is_blank((unsigned char)s[j])) j++;
    if (digit_run(s, n, j) == 4 && (j + 4 == n || !k_isword((unsigned char)s[j + 4]))) return j + 4;
    return -1;
}

/* The next match of NOT_QUANTITY at or after pos: 1 and its span, or 0. */
static int next_not_quantity(const char *s, Py_ssize_t n, Py_ssize_t pos, Py_ssize_t *start, Py_ssize_t *end) {
    static const int iso_lo[3] = {4, 1, 1}, iso_hi[3] = {4, 2, 2};
    static const int dmy_lo[3] = {1, 1, 2}, dmy_hi[3] = {2, 2, 4};
    for (Py_ssize_t i = pos; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        Py_ssize_t e = -1;
        if (i == 0 || s[i - 1] == '\n') e = alt_ordinal(s, n, i);
        if (e < 0 && k_isdigit(c)) {
            int after_digit = i > 0 && k_isdigit((unsigned char)s[i - 1]);
            if (!after_digit) {
                e = alt_runs(s, n, i, '-', iso_lo, iso_hi);
                if (e < 0) e = alt_runs(s, n, i, '/', dmy_lo, dmy_hi);
                if (e < 0) e = alt_runs(s, n, i, '/', iso_lo, iso_hi);
                if (e < 0) e = alt_time(s, n, i);
            }
            if (e < 0 && (i == 0 || !k_isword((unsigned char)s[i - 1]))) e = alt_day_month(s, n, i);
        } else if (e < 0 && is_alpha(c) && (i == 0 || !k_isword((unsigned char)s[i - 1]))) {
            e = alt_month_day(s, n, i);
            if (e < 0) e = alt_month_year(s, n, i);
        }
        if (e >= 0) {
            *start = i;
            *end = e;
            return 1;
        }
    }
    return 0;
}

/* _in_identifier: word characters right after the digits hold a digit, or the number follows a
 * word character other than a digit and a hyphen (_after_a_word). */
static inline int after_a_word(const char *s, Py_ssize_t start) {
    return start >= 2 && s[start - 1] == '-' && !k_isdigit((unsigned char)s[start - 2]) &&
           k_isword((unsigned char)s[start - 2]);
}

static int in_identifier(const char *s, Py_ssize_t n, Py_ssize_t start, Py_ssize_t digits_end) {
    for (Py_ssize_t j = digits_end; j < n && k_isword((unsigned char)s[j]); j++)
        if (k_isdigit((unsigned char)s[j])) return 1;
    return after_a_word(s, start);
}

void numbers_keep_quantities(const char *s, Py_ssize_t n, KNumbers *v) {
    Py_ssize_t ms = 0, me = 0;
    int mask = next_not_quantity(s, n, 0, &ms, &me), kept = 0;
    for (int i = 0; i < v->n; i++) {
        const KNumber *x = &v->items[i];
        Py_ssize_t start = x->text.p - s, end = start + x->text.n;
        while (mask && me <= start) mask = next_not_quantity(s, n, me, &ms, &me);
        if ((mask && ms < end) || in_identifier(s, n, start, x->digits_end)) continue;
        v->items[kept++] = *x;
    }
    v->n = kept;
}

/* has_identifier(s) over numbers(s) (`v`, found in the same s): one of them is part of an identifier. */
int numbers_any_identifier(const char *s, Py_ssize_t n, const KNumbers *v) {
    for (int i = 0; i < v->n; i++)
        if (in_identifier(s, n, v->items[i].text.p - s, v->items[i].digits_end)) return 1;
    return 0;
}

/* quantities(s) is not empty, from numbers(s) (`v`, found in the same s); numbers_keep_quantities
 * without changing `v`. */
int numbers_any_quantity(const char *s, Py_ssize_t n, const KNumbers *v) {
    Py_ssize_t ms = 0, me = 0;
    int mask = next_not_quantity(s, n, 0, &ms, &me);
    for (int i = 0; i < v->n; i++) {
        const KNumber *x = &v->items[i];
        Py_ssize_t start = x->text.p - s, end = start + x->text.n;
        while (mask && me <= start) mask = next_not_quantity(s, n, me, &ms, &me);
        if (!(mask && ms < end) && !in_identifier(s, n, start, x->digits_end)) return 1;
    }
    return 0;
}

static Py_ssize_t str_find(const char *h, Py_ssize_t n, const char *sub, Py_ssize_t m, Py_ssize_t start);

int id_tail_at(const char *hay, Py_ssize_t n, const char *digits, Py_ssize_t m) {
    Py_ssize_t start = str_find(hay, n, digits, m, 0);
    while (start != -1) {
        Py_ssize_t end = start + m;
        if (start > 0 && k_isdigit((unsigned char)hay[start - 1]) && (end == n || !k_isdigit((unsigned char)hay[end]))) {
            Py_ssize_t j = start - 1;
            while (j >= 0 && k_isdigit((unsigned char)hay[j])) j--;
            if ((j >= 0 && k_isword((unsigned char)hay[j])) || after_a_word(hay, j + 1)) return 1;
        }
        start = str_find(hay, n, digits, m, start + 1);
    }
    return 0;
}

/* ------------------------------------------------------------------ candidates */

static inline int add_unique(double *out, int k, double v) {
    for (int i = 0; i < k; i++)
        if (out[i] == v) return k;   /* dict.fromkeys: -0.0 == 0.0 is one key, the first kept */
    out[k] = v;
    return k + 1;
}

int number_candidates(const KNumber *num, double out[6]) {
    int k = 1;
    out[0] = num->value;
    if (num->scale != 1.0) {
        double full = num->value * num->scale;
        k = add_unique(out, k, full);
        k = add_unique(out, k, full / 1e3);
        k = add_unique(out, k, full / 1e6);
        k = add_unique(out, k, full / 1e9);
    }
    if (num->percent) k = add_unique(out, k, num->value / 100);
    return k;
}

/* 10.0 ** -decimals as CPython's float_pow computes it (pow of the libm; underflow gives 0.0).
 * Python raises OverflowError for decimals <= -309; callers never get there (decimals >= -12 from
 * grounded_answer's _decimals), and here the result is inf. */
static inline double pow10_neg(int decimals) {
    if (decimals == 0) return 1.0;
    return pow(10.0, -(double)decimals);
}

int number_close(double value, double target, int decimals, double rel, double abs_tol) {
    double diff = fabs(value - target);
    return diff <= 0.5 * pow10_neg(decimals) + 1e-9 || diff <= rel * fabs(target) || diff <= abs_tol;
}

/* ------------------------------------------------------------------ the pool */

#define POOL_MAX 4000

void pool_init(KPool *p) {
    memset(p, 0, sizeof *p);
}

void pool_free(KPool *p) {
    free(p->values);
    free(p->steps);
    free(p->in_values);
    free(p->in_steps);
    pool_init(p);
}

void pool_clear(KPool *p) {
    p->n = 0;
    p->in_n = 0;
}

static int pool_push(KPool *p, double v, int step) {
    if (!isfinite(v)) return K_OK;   /* NumberPool skips them; they never become keys */
    if (p->in_n == p->in_cap) {
        if (p->in_cap > INT_MAX / 2) { PyErr_NoMemory(); return K_NOMEM; }
        int cap = p->in_cap ? p->in_cap * 2 : 256;
        double *vs = realloc(p->in_values, (size_t)cap * sizeof *vs);
        if (vs == NULL) { PyErr_NoMemory(); return K_NOMEM; }
        p->in_values = vs;
        int *ss = realloc(p->in_steps, (size_t)cap * sizeof *ss);
        if (ss == NULL) { PyErr_NoMemory(); return K_NOMEM; }
        p->in_steps = ss;
        p->in_cap = cap;
    }
    p->in_values[p->in_n] = v;
    p->in_steps[p->in_n] = step;
    p->in_n++;
    return K_OK;
}

int pool_add_text(KPool *p, const char *s, Py_ssize_t n, int step) {
    Py_ssize_t pos = 0;
    KNumber x;
    int found, rc;
    while ((rc = next_number(s, n, &pos, &x, &found)) == K_OK && found) {
        if (!x.percent && x.scale == 1.0) {
            rc = pool_push(p, x.value, step);
        } else {
            double c[6];
            int k = number_candidates(&x, c);
            for (int i = 0; i < k && rc == K_OK; i++) rc = pool_push(p, c[i], step);
        }
        if (rc != K_OK) return rc;
    }
    return rc;
}

/* Stable sort of (vs, ss)[lo:hi) by value, into the same place: insertion sort. */
static void insertion_sort(double *vs, int *ss, Py_ssize_t lo, Py_ssize_t hi) {
    for (Py_ssize_t i = lo + 1; i < hi; i++) {
        double v = vs[i];
        int s = ss[i];
        Py_ssize_t j = i;
        while (j > lo && v < vs[j - 1]) {
            vs[j] = vs[j - 1];
            ss[j] = ss[j - 1];
            j--;
        }
        vs[j] = v;
        ss[j] = s;
    }
}

/* Stable merge sort of (vs, ss)[0:n) by value, using (tv, ts) (room for n) as scratch. */
static void merge_sort(double *vs, int *ss, double *tv, int *ts, Py_ssize_t n) {
    const Py_ssize_t RUN = 16;
    for (Py_ssize_t lo = 0; lo < n; lo += RUN) insertion_sort(vs, ss, lo, lo + RUN < n ? lo + RUN : n);
    double *av = vs, *bv = tv;
    int *as = ss, *bs = ts;
    for (Py_ssize_t w = RUN; w < n; w *= 2) {
        for (Py_ssize_t lo = 0; lo < n; lo += 2 * w) {
            Py_ssize_t mid = lo + w < n ? lo + w : n;
            Py_ssize_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            Py_ssize_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (av[j] < av[i]) { bv[k] = av[j]; bs[k++] = as[j++]; }
                else { bv[k] = av[i]; bs[k++] = as[i++]; }
            }
            while (i < mid) { bv[k] = av[i]; bs[k++] = as[i++]; }
            while (j < hi) { bv[k] = av[j]; bs[k++] = as[j++]; }
        }
        double *xv = av; av = bv; bv = xv;
        int *xs = as; as = bs; bs = xs;
    }
    if (av != vs) {
        memcpy(vs, av, (size_t)n * sizeof *vs);
        memcpy(ss, as, (size_t)n * sizeof *ss);
    }
}

int pool_build(KPool *p) {
    int m = p->in_n;
    if (p->cap < m || p->cap < POOL_MAX) {
        int cap = m > POOL_MAX ? m : POOL_MAX;
        if (p->cap <= INT_MAX / 2 && cap < p->cap * 2) cap = p->cap * 2;
        double *vs = realloc(p->values, (size_t)cap * sizeof *vs);
        if (vs == NULL) { PyErr_NoMemory(); return K_NOMEM; }
        p->values = vs;
        int *ss = realloc(p->steps, (size_t)cap * sizeof *ss);
        if (ss == NULL) { PyErr_NoMemory(); return K_NOMEM; }
        p->steps = ss;
        p->cap = cap;
    }
    /* Sort what was added by value, stably (so the earliest of equal values comes first), then keep
     * the first of each run of equal values: dict semantics, where -0.0 and 0.0 are one key and the
     * first added keeps its sign and step. The input arrays stay sorted and distinct, in an order in
     * which every kept value precedes its later duplicates, so adding more and building again works. */
    if (m > 1) merge_sort(p->in_values, p->in_steps, p->values, p->steps, m);
    int u = 0;
    for (int i = 0; i < m; i++) {
        if (u > 0 && p->in_values[i] == p->in_values[u - 1]) continue;
        p->in_values[u] = p->in_values[i];
        p->in_steps[u] = p->in_steps[i];
        u++;
    }
    p->in_n = u;
    p->n = u < POOL_MAX ? u : POOL_MAX;
    if (p->n > 0) {
        memcpy(p->values, p->in_values, (size_t)p->n * sizeof *p->values);
        memcpy(p->steps, p->in_steps, (size_t)p->n * sizeof *p->steps);
    }
    return K_OK;
}

int pool_find(const KPool *p, double target, int decimals) {
    const double *a = p->values;
    int n = p->n, lo = 0, hi = n;
    while (lo < hi) {   /* bisect_left */
        int mid = (int)(((unsigned)lo + (unsigned)hi) / 2);
        if (a[mid] < target) lo = mid + 1;
        else hi = mid;
    }
    int js[4] = {lo, lo - 1, lo + 1, lo - 2};
    for (int k = 0; k < 4; k++) {
        int j = js[k];
        if (j >= 0 && j < n && number_close(a[j], target, decimals, 0.01, 0.0)) return j;
    }
    return -1;
}

/* numpy.searchsorted(a, v, side="left") on a sorted, finite, distinct a: the number of a[k] < v,
 * with numpy's order for NaN (after everything: n). `hint` (a previous answer) only speeds it up. */
static inline int search_left(const double *a, int n, double v, int hint) {
    if (v != v) return n;
    int lo, hi;
    if (hint < n && a[hint] < v) {
        int step = 1, idx = hint + 1;
        lo = hint + 1;
        while (idx < n && a[idx] < v) {
            lo = idx + 1;
            if (step > n) { idx = n; break; }
            step *= 2;
            idx = hint + step;
        }
        hi = idx < n ? idx : n;
    } else {
        int step = 1, idx = hint - 1;
        hi = hint;
        while (idx >= 0 && !(a[idx] < v)) {
            hi = idx;
            if (step > n) { idx = -1; break; }
            step *= 2;
            idx = hint - step;
        }
        lo = idx >= 0 ? idx + 1 : 0;
    }
    while (lo < hi) {
        int mid = lo + ((hi - lo) >> 1);
        if (a[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

enum { OP_SUM, OP_DIFF, OP_RDIFF, OP_PRODUCT, OP_RATIO, OP_RRATIO, OP_PERCENT, OP_CHANGE, N_OPS };

/* _operations(a, t): the partner each a needs (c = 1 + t / 100, computed once as Python does). */
static inline double needed(int op, double a, double t, double c) {
    switch (op) {
    case OP_SUM: return t - a;
    case OP_DIFF: return a - t;
    case OP_RDIFF: return a + t;
    case OP_PRODUCT: return t / a;
    case OP_RATIO: return a / t;
    case OP_RRATIO: return a * t;
    case OP_PERCENT: return a * 100.0 / t;
    default: return a * c;
    }
}

static inline double result(int op, double x, double y) {
    switch (op) {
    case OP_SUM: return x + y;
    case OP_DIFF: return x - y;
    case OP_RDIFF: return y - x;
    case OP_PRODUCT: return x * y;
    case OP_RATIO: return x / y;
    case OP_RRATIO: return y / x;
    case OP_PERCENT: return x / y * 100.0;
    default: return (y - x) / x * 100.0;
    }
}

int pool_derive(const KPool *p, double target, int decimals, int *oi, int *oj) {
    const double *a = p->values;
    int n = p->n;
    if (n == 0) return 0;
    double t = target;
    double tol = 0.5 * pow10_neg(decimals) + 1e-9;
    double rel = 0.01 * fabs(t);
    if (rel > tol) tol = rel;   /* max(x, y): y only when y > x */
    double c = 1.0 + t / 100.0;
    for (int op = 0; op < N_OPS; op++) {
        /* numpy: cand = j = clip(searchsorted(a, needed), 0, n - 1), the lowest i whose result is
         * within tol; only when there is none, cand = maximum(j - 1, 0), the same. One loop does both:
         * a first-pass hit returns at once, the lowest second-pass hit waits for the loop's end. */
        int hint = 0, i2 = -1, j2 = 0;
        for (int i = 0; i < n; i++) {
            int j = search_left(a, n, needed(op, a[i], t, c), hint);
            hint = j;
            if (j > n - 1) j = n - 1;
            if (fabs(result(op, a[i], a[j]) - t) <= tol) {
                *oi = i;
                *oj = j;
                return 1;
            }
            if (i2 < 0) {
                j = j - 1 > 0 ? j - 1 : 0;
                if (fabs(result(op, a[i], a[j]) - t) <= tol) {
                    i2 = i;
                    j2 = j;
                }
            }
        }
        if (i2 >= 0) {
            *oi = i2;
            *oj = j2;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ _number_at */

/* str.find(sub, start) */
static Py_ssize_t str_find(const char *h, Py_ssize_t n, const char *sub, Py_ssize_t m, Py_ssize_t start) {
    if (start > n) return -1;
    if (m == 0) return start;
    if (m > n - start) return -1;
    const char *p = h + start, *last = h + (n - m);
    char c0 = sub[0];
    while (p <= last) {
        const char *q = memchr(p, c0, (size_t)(last - p) + 1);
        if (q == NULL) return -1;
        if (memcmp(q + 1, sub + 1, (size_t)m - 1) == 0) return q - h;
        p = q + 1;
    }
    return -1;
}

int number_at(const char *hay, Py_ssize_t n, const char *digits, Py_ssize_t m) {
    Py_ssize_t start = str_find(hay, n, digits, m, 0);
    while (start != -1) {
        unsigned char before = start ? (unsigned char)hay[start - 1] : ' ';
        Py_ssize_t e = start + m;
        int a0 = e < n ? (unsigned char)hay[e] : -1;
        int a1 = e + 1 < n ? (unsigned char)hay[e + 1] : -1;
        int bad_after = (a0 >= 0 && k_isdigit(a0)) || ((a0 == '.' || a0 == ',') && a1 >= 0 && k_isdigit(a1));
        if (!k_isdigit(before) && before != '.' && before != ',' && !bad_after) return 1;
        start = str_find(hay, n, digits, m, start + 1);
    }
    return 0;
}

#ifdef RUBRICATE_KERNEL_DEBUG  /* test builds only (scripts/build-kernel.sh --debug) */
/* ------------------------------------------------------------------ debug shims */

/* The ASCII bytes of a str, or NULL with an error set (TypeError / ValueError for non-ASCII). */
static const char *ascii_of(PyObject *o, Py_ssize_t *n) {
    if (!PyUnicode_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "expected str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(o)) {
        PyErr_SetString(PyExc_ValueError, "the kernel handles ASCII text only");
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(o, n);
}

static int as_int(PyObject *o, int *out) {
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < INT_MIN || v > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "int out of range");
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* The numbers of str `arg` into `v` (its text in `s`, `n`): 0, or -1 with a Python error set (ValueError
 * `what` when the kernel does not reproduce the text). */
static int debug_find(PyObject *arg, const char **s, Py_ssize_t *n, KNumbers *v, const char *what) {
    *s = ascii_of(arg, n);
    if (*s == NULL) return -1;
    numbers_init(v);
    if (numbers_find(*s, *n, v) == K_OK) return 0;
    numbers_free(v);
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, what);
    return -1;
}

/* str -> [(text, value, decimals, scale, percent)]; (str, True) -> the same with a sixth item, the
 * tuple of number_candidates (Number.candidates()). */
PyObject *kdebug_numbers(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    int with_candidates = 0;
    if (PyTuple_Check(arg)) {
        PyObject *text, *flag;
        if (!PyArg_ParseTuple(arg, "OO", &text, &flag)) return NULL;
        if ((with_candidates = PyObject_IsTrue(flag)) < 0) return NULL;
        arg = text;
    }
    const char *s;
    KNumbers v;
    if (debug_find(arg, &s, &n, &v, "fallback") < 0) return NULL;
    PyObject *out = PyList_New(v.n);
    for (int i = 0; out != NULL && i < v.n; i++) {
        KNumber *x = &v.items[i];
        PyObject *t;
        if (with_candidates) {
            double c[6];
            int k = number_candidates(x, c);
            PyObject *cs = PyTuple_New(k);
            for (int j = 0; cs != NULL && j < k; j++) {
                PyObject *f = PyFloat_FromDouble(c[j]);
                if (f == NULL) Py_CLEAR(cs);
                else PyTuple_SET_ITEM(cs, j, f);
            }
            t = cs == NULL ? NULL
                           : Py_BuildValue("(s#didNN)", x->text.p, x->text.n, x->value, x->decimals, x->scale,
                                           PyBool_FromLong(x->percent), cs);
        } else {
            t = Py_BuildValue("(s#didN)", x->text.p, x->text.n, x->value, x->decimals, x->scale,
                              PyBool_FromLong(x->percent));
        }
        if (t == NULL) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, t);
    }
    numbers_free(&v);
    return out;
}

/* (texts: [(text, step)], targets: [(target, decimals)][, detail]) -> [(find, derive)], where find
 * is an index or None and derive is (i, j) or None; with a true `detail`, returns
 * (that list, pool values, pool steps). */
PyObject *kdebug_pool(PyObject *self, PyObject *args) {
    PyObject *texts, *targets, *detail = NULL, *out = NULL, *tf = NULL, *gf = NULL;
    if (!PyArg_ParseTuple(args, "OO|O", &texts, &targets, &detail)) return NULL;
    KPool pool;
    pool_init(&pool);
    tf = PySequence_Fast(texts, "texts must be a sequence");
    if (tf == NULL) goto done;
    for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(tf); k++) {
        PyObject *text, *stepo;
        int step;
        Py_ssize_t n;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(tf, k), "OO", &text, &stepo)) goto done;
        const char *s = ascii_of(text, &n);
        if (s == NULL || as_int(stepo, &step) < 0) goto done;
        if (pool_add_text(&pool, s, n, step) != K_OK) goto done;
    }
    if (pool_build(&pool) != K_OK) goto done;
    gf = PySequence_Fast(targets, "targets must be a sequence");
    if (gf == NULL) goto done;
    out = PyList_New(PySequence_Fast_GET_SIZE(gf));
    if (out == NULL) goto done;
    for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(gf); k++) {
        PyObject *to, *decobj, *fo, *dv, *pair;
        int decimals, i, j;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(gf, k), "OO", &to, &decobj)) goto fail;
        double t = PyFloat_AsDouble(to);
        if (t == -1.0 && PyErr_Occurred()) goto fail;
        if (as_int(decobj, &decimals) < 0) goto fail;
        int f = pool_find(&pool, t, decimals);
        if (f >= 0) fo = PyLong_FromLong(f);
        else fo = Py_NewRef(Py_None);
        if (pool_derive(&pool, t, decimals, &i, &j)) dv = Py_BuildValue("(ii)", i, j);
        else dv = Py_NewRef(Py_None);
        if (fo == NULL || dv == NULL) {
            Py_XDECREF(fo);
            Py_XDECREF(dv);
            goto fail;
        }
        pair = PyTuple_Pack(2, fo, dv);
        Py_DECREF(fo);
        Py_DECREF(dv);
        if (pair == NULL) goto fail;
        PyList_SET_ITEM(out, k, pair);
    }
    if (detail != NULL && PyObject_IsTrue(detail)) {
        PyObject *vs = PyList_New(pool.n), *ss = PyList_New(pool.n);
        for (int k = 0; vs != NULL && ss != NULL && k < pool.n; k++) {
            PyObject *v = PyFloat_FromDouble(pool.values[k]), *s = PyLong_FromLong(pool.steps[k]);
            if (v == NULL || s == NULL) {
                Py_XDECREF(v);
                Py_XDECREF(s);
                Py_CLEAR(vs);
                break;
            }
            PyList_SET_ITEM(vs, k, v);
            PyList_SET_ITEM(ss, k, s);
        }
        if (vs == NULL || ss == NULL) {
            Py_XDECREF(vs);
            Py_XDECREF(ss);
            goto fail;
        }
        PyObject *res = Py_BuildValue("(NNN)", out, vs, ss);
        out = res;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_XDECREF(tf);
    Py_XDECREF(gf);
    pool_free(&pool);
    return out;
}

/* (hay, digits) -> bool */
PyObject *kdebug_number_at(PyObject *self, PyObject *args) {
    PyObject *ho, *dobj;
    Py_ssize_t n, m;
    if (!PyArg_ParseTuple(args, "OO", &ho, &dobj)) return NULL;
    const char *h = ascii_of(ho, &n);
    if (h == NULL) return NULL;
    const char *d = ascii_of(dobj, &m);
    if (d == NULL) return NULL;
    return PyBool_FromLong(number_at(h, n, d, m));
}

PyObject *kdebug_quantities(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *s;
    KNumbers v;
    if (debug_find(arg, &s, &n, &v, "_debug_quantities: not reproduced") < 0) return NULL;
    numbers_keep_quantities(s, n, &v);
    PyObject *out = PyList_New(v.n);
    for (int i = 0; out != NULL && i < v.n; i++) {
        PyObject *text = PyUnicode_FromStringAndSize(v.items[i].text.p, v.items[i].text.n);
        if (text == NULL) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, text);
    }
    numbers_free(&v);
    return out;
}

PyObject *kdebug_id_tail(PyObject *self, PyObject *args) {
    PyObject *hay, *digits;
    if (!PyArg_ParseTuple(args, "UU:_debug_id_tail", &hay, &digits)) return NULL;
    Py_ssize_t n, m;
    const char *h = ascii_of(hay, &n), *d = h != NULL ? ascii_of(digits, &m) : NULL;
    if (d == NULL) return NULL;
    return PyBool_FromLong(id_tail_at(h, n, d, m));
}

#endif  /* RUBRICATE_KERNEL_DEBUG */
