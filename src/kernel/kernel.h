/* Rubricate's native scoring kernel: shared types and the functions each part provides.
 *
 * What this is for: `rubricate score` on OpenAI-chat and verifiers-results JSONL with the built-in
 * checks, at a speed near the parse floor. The Python implementation (rubricate.traces.formats.
 * openai_chat / verifiers, rubricate.rubrics.checks.*) is the reference: every function here gives
 * exactly what the Python code gives, or says K_FALLBACK, and then the Python path handles that
 * record. See README.md.
 *
 * Text policy: the patterns of the checks run on ASCII text only. On ASCII text Python's Unicode
 * regex classes reduce to: \d = [0-9]; \w = [A-Za-z0-9_]; \s and str.isspace()/strip()/split() =
 * [ \t\n\v\f\r\x1c\x1d\x1e\x1f]; IGNORECASE and str.lower() = ASCII case folding.
 * OpenAI-chat records: any decoded character >= 0x80 (raw UTF-8 bytes or \u escapes) is K_FALLBACK.
 * verifiers-results records (JDoc.utf8): texts and values may hold non-ASCII text (kept as UTF-8);
 * the checks then match their patterns on an ASCII stand-in of each message text and of the ground
 * truth (stand_in in text.c: one byte per character, '_' for a letter, '\x01' for other symbols),
 * on which every pattern the kernel reproduces matches exactly as on the real text; texts that
 * reach a row, a reason or an equality test are used as they are, and _normal_text and entity
 * names (strip + lower) are computed on the UTF-8 itself. Characters with no exact stand-in
 * (non-ASCII digits and spaces, U+2212, letters that case-fold to ASCII), non-ASCII tool names,
 * and non-ASCII arguments that a check would parse as SQL or take as the answer are K_FALLBACK.
 */
#ifndef RUBRICATE_KERNEL_H
#define RUBRICATE_KERNEL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* Status of a kernel stage. */
#define K_OK 0
#define K_INVALID 1   /* definitely invalid JSON: msgspec.json.decode would raise */
#define K_FALLBACK 2  /* outside what the kernel reproduces exactly: let the Python path decide */
#define K_NOMEM 3     /* out of memory (a Python MemoryError is set) */

/* A byte string, not NUL-terminated. p == NULL stands for Python's None. */
typedef struct {
    const char *p;
    Py_ssize_t n;
} KStr;

/* ASCII character classes (see the text policy above). */
static inline int k_isdigit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int k_isword(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
static inline int k_isspace(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}
static inline unsigned char k_lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Code point cp (>= 0x80, not a surrogate) as UTF-8 at o; the number of bytes written. */
static inline int k_utf8_put(char *o, uint32_t cp) {
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Make room for one more item in a growable array (*items, *cap, n items of `size` bytes), doubling
 * from `first`: K_OK, or K_NOMEM with a MemoryError set. */
static inline int k_grow(void **items, int *cap, int n, size_t size, int first) {
    if (n < *cap) return K_OK;
    int grown = *cap ? *cap * 2 : first;
    void *p = *cap > INT_MAX / 2 ? NULL : PyMem_Realloc(*items, size * (size_t)grown);
    if (p == NULL) {
        PyErr_NoMemory();
        return K_NOMEM;
    }
    *items = p;
    *cap = grown;
    return K_OK;
}

/* ---------------------------------------------------------------- json.c
 * A strict JSON parser into an arena of values (no Python objects). Values are addressed by
 * arena index; index 0 is never a child, so 0 means "none" in `next` and `first`.
 */
typedef enum { J_NULL, J_FALSE, J_TRUE, J_INT, J_FLOAT, J_STR, J_ARR, J_OBJ } JType;

typedef struct {
    uint8_t type;
    uint8_t wide;    /* J_STR: `str` holds non-ASCII text (UTF-8; only when JDoc.utf8 is set) */
    uint8_t kwide;   /* a member of an object: `key` holds non-ASCII text */
    uint32_t next;   /* arena index of the next sibling (array element or object member); 0: none */
    uint32_t first;  /* J_ARR / J_OBJ: arena index of the first child; 0: none */
    uint32_t count;  /* J_ARR / J_OBJ: number of children */
    KStr key;        /* a member of an object: its key, decoded */
    KStr str;        /* J_STR: the decoded text; J_INT / J_FLOAT: the number as written */
    int64_t i;       /* J_INT */
    double f;        /* J_FLOAT */
} JVal;

typedef struct {
    JVal *vals;
    uint32_t n, cap;
    char *buf;       /* decoded text of strings and keys that hold escapes */
    size_t buf_n, buf_cap;
    int utf8;        /* 1: non-ASCII text is decoded to UTF-8 (and flagged `wide`); 0: K_FALLBACK */
} JDoc;

void jdoc_init(JDoc *d);
void jdoc_free(JDoc *d);
/* Empty the arena and make room for parsing up to `bytes` bytes of JSON text in total (one record
 * plus every arguments string parsed from it): later parses never move earlier values, so JVal
 * pointers stay valid until the next reset. Returns K_OK or K_NOMEM. */
int jdoc_reset(JDoc *d, size_t bytes);
/* Parse one JSON text. K_OK with *root set; K_INVALID where msgspec.json.decode raises
 * (syntax errors, trailing characters, unterminated input); K_FALLBACK for what the kernel does not
 * reproduce: non-ASCII text (bytes >= 0x80, \u escapes >= 0x80) unless d->utf8 is set, and then
 * still invalid UTF-8 and lone surrogates; integers outside int64, numbers that overflow a double,
 * nesting deeper than 64, or no room left in the arena. */
int json_parse(JDoc *d, const char *p, size_t n, uint32_t *root);
static inline JVal *jv(JDoc *d, uint32_t i) { return &d->vals[i]; }
/* The value of the LAST member of `obj` named `key` (dict semantics: the last duplicate wins), or NULL. */
JVal *json_get(JDoc *d, const JVal *obj, const char *key);
/* 1 when two members of `obj` share a key. */
int json_has_duplicate_keys(JDoc *d, const JVal *obj);
/* 1 when msgspec.json.encode(a, order="sorted") == msgspec.json.encode(b, order="sorted") for the
 * Python values these decode to (int 1 != float 1.0; -0.0 != 0.0; objects must have no duplicate
 * keys: callers check json_has_duplicate_keys first); 0 otherwise. */
int json_equal(JDoc *d, const JVal *a, const JVal *b);
/* The Python object msgspec.json.decode gives for this value (new reference; NULL with an error set). */
PyObject *json_to_py(JDoc *d, const JVal *v);

/* ---------------------------------------------------------------- episode.c
 * One record, normalised exactly as its Python reader does: rubricate.traces.formats.openai_chat
 * (FMT_OPENAI_CHAT) or .verifiers (FMT_VERIFIERS, VerifiersResults). */
enum { ROLE_SYSTEM = 0, ROLE_USER = 1, ROLE_ASSISTANT = 2, ROLE_TOOL = 3 };
enum { FMT_OPENAI_CHAT = 0, FMT_VERIFIERS = 1 };

typedef struct {
    KStr name;          /* as given ("" when missing or null) */
    KStr lname;         /* ASCII lower-cased name */
    KStr id;            /* p == NULL: None */
    KStr args_raw;      /* ToolCall.arguments_raw: the arguments string as given ("" when missing) */
    int raw_wide;       /* args_raw holds non-ASCII text (verifiers; strings inside `args` say it
                         * themselves, JVal.wide) */
    int args_ok;        /* 1: ToolCall.arguments is a dict (args; 0 = the empty dict {}); 0: None */
    uint32_t args;      /* arena index of the parsed arguments object (0 with args_ok: {}) */
    int step;           /* index of the assistant step that made the call */
    int result_step;    /* index of the paired tool-result step, -1: none */
} KCall;

typedef struct {
    int role;           /* ROLE_* */
    KStr content;       /* Step.content (UTF-8) */
    KStr text;          /* what the checks read: content itself when ASCII, else its stand-in */
    KStr name;          /* p == NULL: None (system/user: Step.name; assistant: None; tool: Step.tool_name) */
    int first_call;     /* assistant: index of its first call in KEpisode.calls */
    int n_calls;
    int is_error;       /* tool steps */
    int call_step;      /* tool steps: the paired assistant step, -1: unpaired */
} KStep;

typedef struct {
    int format;         /* FMT_* of the record being read */
    JDoc doc;
    uint32_t root;
    KStep *steps;
    int n_steps, steps_cap;
    KCall *calls;
    int n_calls, calls_cap;
    int *pending;       /* episode.c's pairing queue: indices into calls (capacity calls_cap) */
    int pend_head, pend_tail;
    char *text;         /* lower-cased names and other derived text live here */
    size_t text_n, text_cap;
    KStr id;            /* Episode.id when the record has one (p == NULL: the caller uses str(source)) */
    KStr task_id;       /* p == NULL: None */
    KStr question;      /* p == NULL: None */
    KStr final_answer;  /* p == NULL: None */
    KStr ground_truth;  /* p == NULL: None */
    KStr question_text; /* the stand-ins of question, final_answer and ground_truth (KStep.text): */
    KStr final_text;    /* what the checks match patterns on (the fields themselves when ASCII) */
    KStr truth_text;
    int has_reward;
    double reward;
    PyObject *metadata; /* new reference: the Episode.metadata dict (may be empty) */
} KEpisode;

void episode_init(KEpisode *ep);
void episode_free(KEpisode *ep);
/* Normalise one JSONL line of format `format` (FMT_*). K_OK; K_INVALID when the line is not valid
 * JSON; K_FALLBACK when the Python reader must decide (not an object, no messages, a shape the
 * kernel does not reproduce, a record the Python reader would report as a load issue); K_NOMEM. */
int episode_from_json(KEpisode *ep, const char *p, size_t n, int format);
/* RecordFormat.read's merge of the file's shared metadata: ep->metadata = {**shared, **ep->metadata}
 * when `shared` (a dict, or NULL) is not empty. K_OK or K_NOMEM. */
int episode_merge_metadata(KEpisode *ep, PyObject *shared);

/* ---------------------------------------------------------------- numbers.c
 * rubricate.rubrics._numbers and the number matching of grounded_answer, exactly. */
typedef struct {
    KStr text;          /* m.group(0).strip() (it starts where the match starts) */
    double value;
    int decimals;
    double scale;
    int percent;
    Py_ssize_t digits_end;  /* m.end("num"), in the text the number was found in */
} KNumber;

typedef struct {
    KNumber *items;
    int n, cap;
} KNumbers;

void numbers_init(KNumbers *v);
void numbers_free(KNumbers *v);
/* Append every number of `s` (like numbers(s)); K_OK or K_NOMEM. */
int numbers_find(const char *s, Py_ssize_t n, KNumbers *out);
/* quantities(s) from numbers(s) (`v`, found in the same s): drop list ordinals, dates, times and
 * numbers in identifiers, keeping the order. */
void numbers_keep_quantities(const char *s, Py_ssize_t n, KNumbers *v);
/* correctness: has_identifier(s) / quantities(s) != [] from numbers(s) (`v`, found in the same s). */
int numbers_any_identifier(const char *s, Py_ssize_t n, const KNumbers *v);
int numbers_any_quantity(const char *s, Py_ssize_t n, const KNumbers *v);
/* list_ordinal_at(s, start): the number at s[start] opens its line as a list item ("2. "). */
int number_is_list_ordinal(const char *s, Py_ssize_t n, Py_ssize_t start);
/* id_tail_at(hay, digits): `digits` end a longer run of digits that is part of an identifier. */
int id_tail_at(const char *hay, Py_ssize_t n, const char *digits, Py_ssize_t m);
/* Number.candidates(): writes up to 6 values, returns how many. */
int number_candidates(const KNumber *num, double out[6]);
/* close(value, target, decimals, rel=rel, abs_tol=abs_tol) */
int number_close(double value, double target, int decimals, double rel, double abs_tol);

typedef struct {
    double *values;     /* sorted, distinct, finite; at most 4000 (NumberPool.MAX) */
    int *steps;
    int n, cap;
    /* builder state */
    double *in_values;
    int *in_steps;
    int in_n, in_cap;
} KPool;

void pool_init(KPool *p);
void pool_free(KPool *p);
void pool_clear(KPool *p);
/* Add candidate_values(text) of the tool output at `step` (call in step order, then pool_build). */
int pool_add_text(KPool *p, const char *s, Py_ssize_t n, int step);
/* NumberPool(found) from what was added: first step per value wins, sorted, capped at 4000. */
int pool_build(KPool *p);
/* NumberPool.find: index of a pooled value close to target, or -1. */
int pool_find(const KPool *p, double target, int decimals);
/* NumberPool.derive: 1 and (i, j) when two pooled values give target in one step, else 0. */
int pool_derive(const KPool *p, double target, int decimals, int *i, int *j);
/* grounded_answer's _number_at(haystack, digits). */
int number_at(const char *hay, Py_ssize_t n, const char *digits, Py_ssize_t m);

/* ---------------------------------------------------------------- text.c
 * rubricate.rubrics._sql.tables_in, rubricate.traces._normalise.looks_like_error and the text
 * helpers of answer_correct, exactly. */
typedef struct {
    KStr *items;        /* lower-cased table names, distinct, in no particular order */
    int n, cap;
    char *buf;
    size_t buf_n, buf_cap;
} KNames;

void names_init(KNames *v);
void names_free(KNames *v);
void names_clear(KNames *v);
/* Append the distinct names of tables_in(sql) to out (names already in out are not added twice).
 * K_OK, K_FALLBACK (a statement the kernel does not reproduce) or K_NOMEM. */
int sql_tables(const char *sql, Py_ssize_t n, KNames *out);
/* looks_like_error(content) */
int looks_like_error(const char *s, Py_ssize_t n);
/* correctness.marked_answer(text): the span of `text` it returns. */
KStr marked_answer(const char *s, Py_ssize_t n);
/* correctness._normal_text(text) of UTF-8 text written into out (capacity >= 2 * n + 1: lower-casing
 * can lengthen a character); its length, or -1 for a character it does not reproduce (those with
 * no stand-in, and U+03A3 whose lower case depends on its neighbours). */
Py_ssize_t normal_text(const char *s, Py_ssize_t n, char *out);
/* str.strip() of UTF-8 text (Python's whitespace, non-ASCII included). */
KStr text_strip(KStr s);
/* str.lower() of UTF-8 text written into out (capacity >= 2 * n): its length, or -1 for the two
 * characters whose lower case is not the simple mapping (U+0130: two characters; U+03A3: depends on
 * its neighbours). */
Py_ssize_t text_lower(const char *s, Py_ssize_t n, char *out);
/* The ASCII stand-in of UTF-8 text (see the text policy above) written into out (capacity >= n);
 * its length (one byte per character), or -1 when a character has no exact stand-in. */
Py_ssize_t stand_in(const char *s, Py_ssize_t n, char *out);

/* ---------------------------------------------------------------- debug shims (one per part)
 * Exposed to Python as rubricate._kernel._debug_* in test builds only (compiled with
 * -DRUBRICATE_KERNEL_DEBUG: scripts/build-kernel.sh --debug); the differential tests compare them
 * with the Python reference on generated and real inputs. */
#ifdef RUBRICATE_KERNEL_DEBUG
PyObject *kdebug_json(PyObject *self, PyObject *arg);          /* bytes -> ("ok", obj) | ("invalid",) | ("fallback",) */
PyObject *kdebug_json_utf8(PyObject *self, PyObject *arg);     /* the same with JDoc.utf8 set */
PyObject *kdebug_json_equal(PyObject *self, PyObject *args);   /* (bytes, bytes) -> bool | None (fallback) */
PyObject *kdebug_episode(PyObject *self, PyObject *arg);       /* bytes -> dict | "invalid" | "fallback" */
PyObject *kdebug_verifiers(PyObject *self, PyObject *args);    /* (bytes[, shared dict]) -> the same, verifiers-results */
PyObject *kdebug_numbers(PyObject *self, PyObject *arg);       /* str -> [(text, value, decimals, scale, percent)] */
PyObject *kdebug_pool(PyObject *self, PyObject *args);         /* ([(text, step)], [(target, decimals)]) -> [(find, derive)] */
PyObject *kdebug_number_at(PyObject *self, PyObject *args);    /* (hay, digits) -> bool */
PyObject *kdebug_quantities(PyObject *self, PyObject *arg);    /* str -> [text of each quantity] */
PyObject *kdebug_id_tail(PyObject *self, PyObject *args);      /* (hay, digits) -> bool */
PyObject *kdebug_tables(PyObject *self, PyObject *arg);        /* str -> frozenset | None (fallback) */
PyObject *kdebug_looks_like_error(PyObject *self, PyObject *arg); /* str -> bool */
PyObject *kdebug_marked_answer(PyObject *self, PyObject *arg); /* str -> str */
PyObject *kdebug_normal_text(PyObject *self, PyObject *arg);   /* str -> str */
PyObject *kdebug_normal_text_utf8(PyObject *self, PyObject *arg); /* str -> str | None (not reproduced) */
PyObject *kdebug_stand_in(PyObject *self, PyObject *arg);      /* str -> str | None (no stand-in) */
PyObject *kdebug_strip_lower(PyObject *self, PyObject *arg);   /* str -> str.strip().lower() | None */
#endif

#endif
