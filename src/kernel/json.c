/* json.c: a strict JSON parser into an arena of values (see kernel.h, "json.c").
 *
 * The reference is msgspec.json.decode. K_OK only where msgspec decodes the text to the same value
 * json_to_py builds; K_INVALID only where msgspec raises msgspec.DecodeError; K_FALLBACK for
 * everything the kernel does not reproduce exactly (the Python path then decides):
 *   - a byte >= 0x80 inside a string or key (msgspec would decode UTF-8, or raise UnicodeDecodeError,
 *     which is not a DecodeError), a \u escape >= 0x80 (surrogates too), unless d->utf8 is set;
 *   - with d->utf8: invalid UTF-8 (as Python's strict decoder sees it: overlong forms, encoded
 *     surrogates, code points above U+10FFFF, truncated sequences) and \u surrogates that are not a
 *     high one directly followed by a \u low one (msgspec raises; the Python path reports it);
 *   - integers outside int64 (msgspec gives a Python int of any size);
 *   - floats that overflow a double (msgspec raises ValidationError "Number out of range"), floats
 *     longer than 127 characters, and floats off the exact fast path when the GIL is not held;
 *   - nesting deeper than JMAX_DEPTH containers (msgspec's own limit is the recursion limit);
 *   - no room left in the arena.
 * Verified against msgspec 0.22: raw control characters (< 0x20) inside strings raise DecodeError
 * ("invalid character") before any UTF-8 decoding, so they are K_INVALID; bytes >= 0x80 outside
 * strings raise DecodeError too (invalid or trailing character), so they are K_INVALID.
 *
 * Non-ASCII text (d->utf8): raw UTF-8 is validated and kept as it is (a string without escapes
 * still points into the input); \u escapes >= 0x80 are written as UTF-8 (never longer than the
 * escape). Such strings and keys are flagged `wide` (json_to_py decodes them as UTF-8).
 *
 * Layout: vals[0] is reserved; values are numbered in document order (a container before its
 * children); children are linked by first/next, and each object member's value carries its key.
 * Strings and keys without escapes point into the input (which must outlive the values); those
 * with escapes are decoded into d->buf. Neither array moves between resets.
 *
 * Floats: the digits are read into a 64-bit mantissa; when it is exact below 2^53 and the decimal
 * exponent is within +-22 the value is one correctly rounded multiplication or division of two
 * exact doubles (the same fast path msgspec takes, and the only one needing FLT_EVAL_METHOD == 0).
 * Anything else goes to PyOS_string_to_double (CPython's correctly rounded, locale-independent
 * dtoa, what float() uses); msgspec's Eisel-Lemire / high-precision-decimal parser is correctly
 * rounded too, so both give the nearest double. That slow path needs the GIL (dtoa's allocator);
 * without it the parse says K_FALLBACK.
 */
#include "kernel.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define J_SSE2 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define J_LIKELY(x) __builtin_expect(!!(x), 1)
#define J_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define J_NOINLINE __attribute__((noinline))
#else
#define J_LIKELY(x) (x)
#define J_UNLIKELY(x) (x)
#define J_NOINLINE
#endif

#define JMAX_DEPTH 64   /* containers nested deeper than this: K_FALLBACK */
#define JMAX_FLOAT 127  /* float texts longer than this on the slow path: K_FALLBACK */

typedef unsigned char uchar;

/* ---------------------------------------------------------------- arena */

void jdoc_init(JDoc *d) { memset(d, 0, sizeof *d); }

void jdoc_free(JDoc *d) {
    free(d->vals);
    free(d->buf);
    memset(d, 0, sizeof *d);
}

/* Grow *mem to hold `want` items of `size` bytes (contents are not kept). When that much is not
 * to be had, settle for less, down to `floor` items: parses that do not fit then say K_FALLBACK,
 * which is only slower. 0, or -1 when not even `floor` items could be allocated. */
static int grow(void **mem, size_t *cap, size_t want, size_t size, size_t floor) {
    if (want <= *cap) return 0;
    if (floor > want) floor = want;
    for (size_t n = want;; n /= 2) {
        if (n < floor) n = floor;
        if (n <= *cap) return 0;  /* what we have is as good as we can get */
        void *m = n <= SIZE_MAX / size ? malloc(n * size) : NULL;
        if (m != NULL) {
            free(*mem);
            *mem = m;
            *cap = n;
            return 0;
        }
        if (n == floor) return -1;
    }
}

int jdoc_reset(JDoc *d, size_t bytes) {
    /* Every JSON value takes at least one byte of text, so `bytes` texts hold at most `bytes`
     * values (plus the reserved vals[0]); decoded escaped strings are shorter than their text. */
    size_t want = bytes + 17;
    if (want > (size_t)UINT32_MAX) want = (size_t)UINT32_MAX;
    size_t cap = d->cap;
    void *vals = d->vals, *buf = d->buf;
    int rc = grow(&vals, &cap, want, sizeof(JVal), 4096);
    d->vals = (JVal *)vals;
    d->cap = (uint32_t)cap;
    if (rc == 0) rc = grow(&buf, &d->buf_cap, bytes + 16, 1, 65536);
    d->buf = (char *)buf;
    if (rc < 0) {
        PyErr_NoMemory();
        return K_NOMEM;
    }
    memset(&d->vals[0], 0, sizeof(JVal));
    d->n = 1;
    d->buf_n = 0;
    return K_OK;
}

/* ---------------------------------------------------------------- tables */

/* JSON whitespace: space, \t, \n, \r (msgspec rejects \v and \f). */
static const uchar ws_tab[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* Bytes that end a plain run inside a string: '"', '\\', control characters, non-ASCII. */
static const uchar str_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static const double pow10_tab[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline int hexval(uchar c) {
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

#if defined(__GNUC__) || defined(__clang__)
#define J_CTZ(x) ((unsigned)__builtin_ctz(x))
#else
static inline unsigned J_CTZ(unsigned x) {
    unsigned i = 0;
    while (!(x & 1u)) { x >>= 1; i++; }
    return i;
}
#endif

/* The first byte in [s, end) that ends a plain string run, or end. */
static inline const uchar *scan_str(const uchar *s, const uchar *end) {
#ifdef J_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    /* signed compare: bytes 0x80..0xff are negative, so "< 0x20" also catches non-ASCII */
    while (end - s >= 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
        __m128i ma = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(a, quote), _mm_cmpeq_epi8(a, bslash)),
                                  _mm_cmplt_epi8(a, space));
        __m128i mb = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(b, quote), _mm_cmpeq_epi8(b, bslash)),
                                  _mm_cmplt_epi8(b, space));
        unsigned m = (unsigned)_mm_movemask_epi8(ma) | ((unsigned)_mm_movemask_epi8(mb) << 16);
        if (m) return s + J_CTZ(m);
        s += 32;
    }
    if (end - s >= 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        __m128i ma = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(a, quote), _mm_cmpeq_epi8(a, bslash)),
                                  _mm_cmplt_epi8(a, space));
        unsigned m = (unsigned)_mm_movemask_epi8(ma);
        if (m) return s + J_CTZ(m);
        s += 16;
    }
#endif
    while (s < end && !str_stop[*s]) s++;
    return s;
}

/* scan_str that also copies the plain run to *op (advanced past it). It stores whole 16-byte
 * blocks: up to 15 bytes past the run, but never further ahead of *op than the input is of s. */
static inline const uchar *scan_copy(const uchar *s, const uchar *end, char **op) {
    char *o = *op;
#ifdef J_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - s >= 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        _mm_storeu_si128((__m128i *)o, a);
        __m128i ma = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(a, quote), _mm_cmpeq_epi8(a, bslash)),
                                  _mm_cmplt_epi8(a, space));
        unsigned m = (unsigned)_mm_movemask_epi8(ma);
        if (m) {
            unsigned k = J_CTZ(m);
            *op = o + k;
            return s + k;
        }
        s += 16;
        o += 16;
    }
#endif
    while (s < end && !str_stop[*s]) *o++ = (char)*s++;
    *op = o;
    return s;
}

/* ---------------------------------------------------------------- strings */

/* The length of the valid UTF-8 sequence at s (its first byte >= 0x80), or 0 when Python's strict
 * decoder refuses it. */
static int utf8_seq(const uchar *s, const uchar *end) {
    uchar c = s[0];
    ptrdiff_t left = end - s;
    if (c >= 0xC2 && c <= 0xDF) return left >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (s[2] & 0xC0) != 0x80) return 0;
        uchar lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;  /* no overlong, no surrogate */
        return s[1] >= lo && s[1] <= hi ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        uchar lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;  /* no overlong, <= U+10FFFF */
        return s[1] >= lo && s[1] <= hi ? 4 : 0;
    }
    return 0;  /* a continuation byte, an overlong lead (C0, C1) or F5..FF */
}

static inline int hex4(const uchar *s) {
    int h0 = hexval(s[0]), h1 = hexval(s[1]), h2 = hexval(s[2]), h3 = hexval(s[3]);
    if ((h0 | h1 | h2 | h3) < 0) return -1;
    return (h0 << 12) | (h1 << 8) | (h2 << 4) | h3;
}

/* The code point of the \u escape at s (s[0] == '\\', s[1] == 'u', 6 bytes available) and the
 * length of the escape (12 for a surrogate pair) in *len: K_OK, K_INVALID (not four hex digits:
 * msgspec raises) or K_FALLBACK (a surrogate that is not a high one followed by a low one). */
static int unicode_escape(const uchar *s, const uchar *end, int *cp, int *len) {
    int c = hex4(s + 2);
    if (c < 0) return K_INVALID;
    *len = 6;
    if (c >= 0xD800 && c <= 0xDFFF) {
        if (c >= 0xDC00 || end - s < 12 || s[6] != '\\' || s[7] != 'u') return K_FALLBACK;
        int lo = hex4(s + 8);
        if (lo < 0xDC00 || lo > 0xDFFF) return K_FALLBACK;
        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        *len = 12;
    }
    *cp = c;
    return K_OK;
}

/* The rest of a string from its first backslash `s` (the plain run [start, s) comes first),
 * decoded into d->buf. *pp is left after the closing quote; *wide is set when it holds non-ASCII. */
static J_NOINLINE int parse_str_escaped(JDoc *d, const uchar *start, const uchar *s, const uchar *end,
                                        const uchar **pp, KStr *out, uint8_t *wide) {
    /* the decoded text is never longer than what is left of the input (an escape decodes to fewer
     * bytes than it takes, raw UTF-8 to as many), and neither are scan_copy's 16-byte stores (the
     * output never runs ahead of the input) */
    if ((size_t)(end - start) > d->buf_cap - d->buf_n) return K_FALLBACK;
    char *o0 = d->buf + d->buf_n, *o = o0;
    memcpy(o, start, (size_t)(s - start));
    o += s - start;
    for (;;) {
        if (*s == '\\') {
            if (end - s < 2) return K_INVALID;
            switch (s[1]) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '/': *o++ = '/'; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case 'u': {
                /* fewer than four hex digits, or a non-hex one: msgspec raises (truncated / invalid) */
                if (end - s < 6) return K_INVALID;
                int cp, len, st = unicode_escape(s, end, &cp, &len);
                if (st != K_OK) return st;
                if (cp < 0x80) {
                    *o++ = (char)cp;
                } else {
                    if (!d->utf8) return K_FALLBACK;  /* non-ASCII, surrogates included */
                    o += k_utf8_put(o, cp);
                    *wide = 1;
                }
                s += len - 2;
                break;
            }
            default:
                return K_INVALID;  /* invalid escape character */
            }
            s += 2;
        } else if (*s >= 0x80) {
            int k = d->utf8 ? utf8_seq(s, end) : 0;
            if (k == 0) return K_FALLBACK;  /* ASCII-only, or invalid UTF-8 (UnicodeDecodeError) */
            memcpy(o, s, (size_t)k);
            o += k;
            s += k;
            *wide = 1;
        } else {
            return K_INVALID;  /* a raw control character */
        }
        s = scan_copy(s, end, &o);
        if (J_UNLIKELY(s == end)) return K_INVALID;  /* unterminated */
        if (*s == '"') break;
    }
    out->p = o0;
    out->n = o - o0;
    d->buf_n += (size_t)(o - o0);
    *pp = s + 1;
    return K_OK;
}

/* A string whose plain ASCII run [start, s) ended at a byte other than the closing quote. */
static J_NOINLINE int parse_str_rest(JDoc *d, const uchar *start, const uchar *s, const uchar *end,
                                     const uchar **pp, KStr *out, uint8_t *wide) {
    /* raw UTF-8 before any escape: the text is still the input itself */
    while (*s >= 0x80) {
        int k = d->utf8 ? utf8_seq(s, end) : 0;
        if (k == 0) return K_FALLBACK;  /* ASCII-only, or invalid UTF-8 (UnicodeDecodeError) */
        *wide = 1;
        s = scan_str(s + k, end);
        if (J_UNLIKELY(s == end)) return K_INVALID;  /* unterminated */
    }
    if (*s == '"') {
        out->p = (const char *)start;
        out->n = s - start;
        *pp = s + 1;
        return K_OK;
    }
    if (*s == '\\') return parse_str_escaped(d, start, s, end, pp, out, wide);
    return K_INVALID;  /* a raw control character */
}

/* The string whose opening quote is at *pp; *wide tells whether it holds non-ASCII text. */
static inline int parse_str(JDoc *d, const uchar **pp, const uchar *end, KStr *out, uint8_t *wide) {
    const uchar *start = *pp + 1;
    const uchar *s = scan_str(start, end);
    *wide = 0;
    if (J_UNLIKELY(s == end)) return K_INVALID;  /* unterminated */
    if (J_LIKELY(*s == '"')) {
        out->p = (const char *)start;
        out->n = s - start;
        *pp = s + 1;
        return K_OK;
    }
    return parse_str_rest(d, start, s, end, pp, out, wide);
}

/* ---------------------------------------------------------------- numbers */

static J_NOINLINE int float_slow(const uchar *start, size_t len, double *out) {
    char tmp[JMAX_FLOAT + 1];
    if (len > JMAX_FLOAT) return K_FALLBACK;
    if (!PyGILState_Check()) return K_FALLBACK;  /* dtoa needs the GIL */
    memcpy(tmp, start, len);
    tmp[len] = '\0';
    char *endp = NULL;
    double x = PyOS_string_to_double(tmp, &endp, NULL);
    if (endp != tmp + len) {
        if (PyErr_Occurred()) PyErr_Clear();
        return K_FALLBACK;
    }
    if (isinf(x) || isnan(x)) return K_FALLBACK;  /* msgspec: "Number out of range" */
    *out = x;
    return K_OK;
}

/* The number at *pp (it starts with '-' or a digit) into v. */
static inline int parse_num(const uchar **pp, const uchar *end, JVal *v) {
    const uchar *p = *pp, *start = p;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
        if (p == end) return K_INVALID;
    }
    uint64_t mant = 0;
    int sig = 0;      /* significant digits read into mant (leading zeros skipped) */
    int dropped = 0;  /* significant digits beyond 19 (not in mant) */
    if (*p == '0') {
        p++;
        if (p < end && k_isdigit(*p)) return K_INVALID;  /* leading zero */
    } else if (*p >= '1' && *p <= '9') {
        do {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                sig++;
            } else {
                dropped++;
            }
            p++;
        } while (p < end && k_isdigit(*p));
    } else {
        return K_INVALID;
    }
    int is_float = 0;
    int64_t e10 = dropped;  /* decimal exponent of mant */
    if (p < end && *p == '.') {
        p++;
        if (p == end || !k_isdigit(*p)) return K_INVALID;
        is_float = 1;
        do {
            if (sig < 19) {
                if (mant != 0 || *p != '0') {
                    mant = mant * 10 + (uint64_t)(*p - '0');
                    sig++;
                }
                e10--;
            } else {
                dropped++;
            }
            p++;
        } while (p < end && k_isdigit(*p));
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p == end || !k_isdigit(*p)) return K_INVALID;
        is_float = 1;
        int64_t ex = 0;
        do {
            if (ex < 100000000) ex = ex * 10 + (*p - '0');
            p++;
        } while (p < end && k_isdigit(*p));
        e10 += eneg ? -ex : ex;
    }
    *pp = p;
    v->str.p = (const char *)start;
    v->str.n = p - start;
    if (!is_float) {
        if (dropped) return K_FALLBACK;  /* 20+ digits: outside int64 */
        v->type = J_INT;
        if (neg) {
            if (mant > (uint64_t)INT64_MAX + 1) return K_FALLBACK;
            v->i = mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mant;
        } else {
            if (mant > (uint64_t)INT64_MAX) return K_FALLBACK;
            v->i = (int64_t)mant;
        }
        return K_OK;
    }
    v->type = J_FLOAT;
    if (mant == 0 && !dropped) {
        /* all digits zero: +-0.0 whatever the exponent (as msgspec and float() give) */
        v->f = neg ? -0.0 : 0.0;
        return K_OK;
    }
#if FLT_EVAL_METHOD == 0
    if (!dropped && mant <= ((uint64_t)1 << 53) && e10 >= -22 && e10 <= 22) {
        double x = (double)mant;
        if (e10 >= 0) x *= pow10_tab[e10];
        else x /= pow10_tab[-e10];
        v->f = neg ? -x : x;
        return K_OK;
    }
#endif
    return float_slow(start, (size_t)(p - start), &v->f);
}

/* ---------------------------------------------------------------- the parser */

#define SKIP_WS() while (p < end && ws_tab[*p]) p++

int json_parse(JDoc *d, const char *text, size_t len, uint32_t *root) {
    const uchar *p = (const uchar *)text, *end = p + len;
    JVal *vals = d->vals;
    uint32_t n = d->n, cap = d->cap;
    const uint32_t n0 = n;
    const size_t b0 = d->buf_n;
    uint32_t stack[JMAX_DEPTH];  /* open containers */
    uint32_t lastc[JMAX_DEPTH];  /* their last child so far (0: none) */
    int depth = 0;
    KStr key = {NULL, 0};
    uint8_t kwide = 0;
    uint32_t top = 0;
    int st;

    if (vals == NULL) return K_FALLBACK;

value:
    SKIP_WS();
    if (J_UNLIKELY(p == end)) goto invalid;
    if (J_UNLIKELY(n >= cap)) goto fallback;
    {
        uint32_t vi = n++;
        JVal *v = &vals[vi];
        v->next = 0;
        v->first = 0;
        v->count = 0;
        v->key.p = key.p; /* field by field: a 16-byte copy stalls on store forwarding */
        v->key.n = key.n;
        v->kwide = kwide;
        v->wide = 0;
        v->str.p = NULL;
        v->str.n = 0;
        v->i = 0;
        v->f = 0.0;
        if (depth) {
            uint32_t lc = lastc[depth - 1];
            if (lc) vals[lc].next = vi;
            else vals[stack[depth - 1]].first = vi;
            lastc[depth - 1] = vi;
            vals[stack[depth - 1]].count++;
        } else {
            top = vi;
        }
        switch (*p) {
        case '"':
            v->type = J_STR;
            st = parse_str(d, &p, end, &v->str, &v->wide);
            if (J_UNLIKELY(st != K_OK)) goto fail;
            goto after;
        case '{':
            v->type = J_OBJ;
            if (J_UNLIKELY(depth == JMAX_DEPTH)) goto fallback;
            stack[depth] = vi;
            lastc[depth] = 0;
            depth++;
            p++;
            SKIP_WS();
            if (p == end) goto invalid;
            if (*p == '}') {
                p++;
                depth--;
                goto after;
            }
            goto member;
        case '[':
            v->type = J_ARR;
            if (J_UNLIKELY(depth == JMAX_DEPTH)) goto fallback;
            stack[depth] = vi;
            lastc[depth] = 0;
            depth++;
            p++;
            SKIP_WS();
            if (p == end) goto invalid;
            if (*p == ']') {
                p++;
                depth--;
                goto after;
            }
            key.p = NULL;
            key.n = 0;
            kwide = 0;
            goto value;
        case '-': case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
            st = parse_num(&p, end, v);
            if (J_UNLIKELY(st != K_OK)) goto fail;
            goto after;
        case 't':
            if (end - p < 4 || memcmp(p, "true", 4) != 0) goto invalid;
            v->type = J_TRUE;
            p += 4;
            goto after;
        case 'f':
            if (end - p < 5 || memcmp(p, "false", 5) != 0) goto invalid;
            v->type = J_FALSE;
            p += 5;
            goto after;
        case 'n':
            if (end - p < 4 || memcmp(p, "null", 4) != 0) goto invalid;
            v->type = J_NULL;
            p += 4;
            goto after;
        default:
            goto invalid;
        }
    }

member:
    /* at the key of an object member: whitespace already skipped */
    if (J_UNLIKELY(*p != '"')) goto invalid;
    st = parse_str(d, &p, end, &key, &kwide);
    if (J_UNLIKELY(st != K_OK)) goto fail;
    SKIP_WS();
    if (J_UNLIKELY(p == end || *p != ':')) goto invalid;
    p++;
    goto value;

after:
    SKIP_WS();
    if (depth == 0) {
        if (J_UNLIKELY(p != end)) goto invalid;  /* trailing characters */
        d->n = n;
        *root = top;
        return K_OK;
    }
    if (J_UNLIKELY(p == end)) goto invalid;
    if (vals[stack[depth - 1]].type == J_OBJ) {
        if (*p == ',') {
            p++;
            SKIP_WS();
            if (p == end) goto invalid;
            goto member;
        }
        if (*p == '}') {
            p++;
            depth--;
            goto after;
        }
    } else {
        if (*p == ',') {
            p++;
            key.p = NULL;
            key.n = 0;
            kwide = 0;
            goto value;
        }
        if (*p == ']') {
            p++;
            depth--;
            goto after;
        }
    }
    goto invalid;

invalid:
    st = K_INVALID;
    goto fail;
fallback:
    st = K_FALLBACK;
fail:
    d->n = n0;
    d->buf_n = b0;
    return st;
}

/* ---------------------------------------------------------------- queries */

static inline int key_eq(const KStr *a, const KStr *b) {
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, (size_t)a->n) == 0);
}

JVal *json_get(JDoc *d, const JVal *obj, const char *key) {
    if (obj == NULL || obj->type != J_OBJ) return NULL;
    size_t kn = strlen(key);
    JVal *found = NULL;
    for (uint32_t i = obj->first; i; i = d->vals[i].next) {
        JVal *m = &d->vals[i];
        if ((size_t)m->key.n == kn && memcmp(m->key.p, key, kn) == 0) found = m;
    }
    return found;
}

static inline uint64_t key_hash(const KStr *k) {
    uint64_t h = 1469598103934665603ull;  /* FNV-1a */
    for (Py_ssize_t i = 0; i < k->n; i++) {
        h ^= (uchar)k->p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int json_has_duplicate_keys(JDoc *d, const JVal *obj) {
    if (obj == NULL || obj->type != J_OBJ || obj->count < 2) return 0;
    uint32_t k = obj->count;
    uint32_t *tab = NULL;
    size_t size = 0;
    if (k > 64) {
        size = 128;
        while (size < (size_t)k * 2) size <<= 1;
        tab = (uint32_t *)calloc(size, sizeof(uint32_t));
    }
    if (tab == NULL) {  /* few members (or no memory): pairwise */
        for (uint32_t i = obj->first; i; i = d->vals[i].next)
            for (uint32_t j = d->vals[i].next; j; j = d->vals[j].next)
                if (key_eq(&d->vals[i].key, &d->vals[j].key)) return 1;
        return 0;
    }
    int dup = 0;
    for (uint32_t i = obj->first; i && !dup; i = d->vals[i].next) {
        size_t h = (size_t)key_hash(&d->vals[i].key) & (size - 1);
        while (tab[h]) {
            if (key_eq(&d->vals[tab[h]].key, &d->vals[i].key)) {
                dup = 1;
                break;
            }
            h = (h + 1) & (size - 1);
        }
        tab[h] = i;
    }
    free(tab);
    return dup;
}

int json_equal(JDoc *d, const JVal *a, const JVal *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case J_NULL:
    case J_FALSE:
    case J_TRUE:
        return 1;
    case J_INT:
        return a->i == b->i;
    case J_FLOAT:
        /* msgspec writes the shortest repr: equal values give equal text, except -0.0 vs 0.0 */
        return a->f == b->f && signbit(a->f) == signbit(b->f);
    case J_STR:
        return key_eq(&a->str, &b->str);
    case J_ARR: {
        if (a->count != b->count) return 0;
        uint32_t i = a->first, j = b->first;
        for (; i && j; i = d->vals[i].next, j = d->vals[j].next)
            if (!json_equal(d, &d->vals[i], &d->vals[j])) return 0;
        return i == 0 && j == 0;
    }
    case J_OBJ: {
        if (a->count != b->count) return 0;
        /* members in the same order are found at once; others by a scan of b */
        uint32_t j = b->first;
        for (uint32_t i = a->first; i; i = d->vals[i].next) {
            const JVal *ma = &d->vals[i];
            const JVal *mb = NULL;
            if (j && key_eq(&d->vals[j].key, &ma->key)) {
                mb = &d->vals[j];
            } else {
                for (uint32_t t = b->first; t; t = d->vals[t].next)
                    if (key_eq(&d->vals[t].key, &ma->key)) {
                        mb = &d->vals[t];
                        break;
                    }
                if (mb == NULL) return 0;
            }
            if (!json_equal(d, ma, mb)) return 0;
            j = mb->next;
        }
        return 1;
    }
    }
    return 0;
}

/* ---------------------------------------------------------------- to Python */

static PyObject *ascii_str(const KStr *s) {
    PyObject *o = PyUnicode_New(s->n, 127);
    if (o == NULL) return NULL;
    if (s->n) memcpy(PyUnicode_DATA(o), s->p, (size_t)s->n);
    return o;
}

/* A decoded string or key: ASCII copied as it is, `wide` text decoded from UTF-8 (valid: json.c
 * checked it). */
static PyObject *text_str(const KStr *s, int wide) {
    return wide ? PyUnicode_DecodeUTF8(s->p, s->n, "strict") : ascii_str(s);
}

PyObject *json_to_py(JDoc *d, const JVal *v) {
    switch (v->type) {
    case J_NULL:
        Py_RETURN_NONE;
    case J_FALSE:
        Py_RETURN_FALSE;
    case J_TRUE:
        Py_RETURN_TRUE;
    case J_INT:
        return PyLong_FromLongLong(v->i);
    case J_FLOAT:
        return PyFloat_FromDouble(v->f);
    case J_STR:
        return text_str(&v->str, v->wide);
    case J_ARR: {
        PyObject *list = PyList_New(v->count);
        if (list == NULL) return NULL;
        Py_ssize_t k = 0;
        for (uint32_t i = v->first; i; i = d->vals[i].next) {
            PyObject *item = json_to_py(d, &d->vals[i]);
            if (item == NULL) {
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(list, k, item);
            k++;
        }
        return list;
    }
    case J_OBJ: {
        PyObject *dict = PyDict_New();
        if (dict == NULL) return NULL;
        for (uint32_t i = v->first; i; i = d->vals[i].next) {
            const JVal *m = &d->vals[i];
            PyObject *key = text_str(&m->key, m->kwide);
            if (key == NULL) goto error;
            PyObject *val = json_to_py(d, m);
            if (val == NULL) {
                Py_DECREF(key);
                goto error;
            }
            int r = PyDict_SetItem(dict, key, val);  /* a later duplicate replaces the value */
            Py_DECREF(key);
            Py_DECREF(val);
            if (r < 0) goto error;
        }
        return dict;
    error:
        Py_DECREF(dict);
        return NULL;
    }
    }
    PyErr_SetString(PyExc_SystemError, "json_to_py: bad value type");
    return NULL;
}

#ifdef RUBRICATE_KERNEL_DEBUG  /* test builds only (scripts/build-kernel.sh --debug) */
/* ---------------------------------------------------------------- debug shims */

/* 1 when every string and key of the arena is flagged `wide` exactly when it holds a byte >= 0x80. */
static int wide_flags_agree(const JDoc *d) {
    for (uint32_t i = 1; i < d->n; i++) {
        const JVal *v = &d->vals[i];
        int high = 0, khigh = 0;
        for (Py_ssize_t k = 0; v->type == J_STR && k < v->str.n; k++) high |= (uchar)v->str.p[k] >= 0x80;
        for (Py_ssize_t k = 0; v->key.p != NULL && k < v->key.n; k++) khigh |= (uchar)v->key.p[k] >= 0x80;
        if (high != v->wide || khigh != v->kwide) return 0;
    }
    return 1;
}

static PyObject *debug_json(PyObject *arg, int utf8) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    JDoc d;
    jdoc_init(&d);
    PyObject *res = NULL;
    uint32_t root = 0;
    if (jdoc_reset(&d, (size_t)view.len) != K_OK) goto done;
    d.utf8 = utf8;
    int st = json_parse(&d, (const char *)view.buf, (size_t)view.len, &root);
    if (st == K_OK) {
        if (!wide_flags_agree(&d)) {
            PyErr_SetString(PyExc_SystemError, "json_parse: a wide flag disagrees with the text");
            goto done;
        }
        PyObject *obj = json_to_py(&d, jv(&d, root));
        if (obj != NULL) res = Py_BuildValue("(sN)", "ok", obj);
    } else {
        res = Py_BuildValue("(s)", st == K_INVALID ? "invalid" : "fallback");
    }
done:
    jdoc_free(&d);
    PyBuffer_Release(&view);
    return res;
}

PyObject *kdebug_json(PyObject *self, PyObject *arg) { return debug_json(arg, 0); }

PyObject *kdebug_json_utf8(PyObject *self, PyObject *arg) { return debug_json(arg, 1); }

PyObject *kdebug_json_equal(PyObject *self, PyObject *args) {
    Py_buffer a, b;
    if (!PyArg_ParseTuple(args, "y*y*", &a, &b)) return NULL;
    JDoc d;
    jdoc_init(&d);
    PyObject *res = NULL;
    uint32_t ra = 0, rb = 0;
    if (jdoc_reset(&d, (size_t)a.len + (size_t)b.len) != K_OK) goto done;
    if (json_parse(&d, (const char *)a.buf, (size_t)a.len, &ra) != K_OK ||
        json_parse(&d, (const char *)b.buf, (size_t)b.len, &rb) != K_OK) {
        res = Py_NewRef(Py_None);
        goto done;
    }
    for (uint32_t i = 1; i < d.n; i++) {
        if (d.vals[i].type == J_OBJ && json_has_duplicate_keys(&d, &d.vals[i])) {
            res = Py_NewRef(Py_None);
            goto done;
        }
    }
    res = PyBool_FromLong(json_equal(&d, jv(&d, ra), jv(&d, rb)));
done:
    jdoc_free(&d);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return res;
}

#endif  /* RUBRICATE_KERNEL_DEBUG */
