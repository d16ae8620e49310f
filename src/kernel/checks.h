/* The built-in checks on a KEpisode (checks.c), and what score.c gives them. */
#ifndef RUBRICATE_CHECKS_H
#define RUBRICATE_CHECKS_H

#include "kernel.h"

enum { V_PASS = 0, V_FAIL = 1, V_NA = 2, V_ERROR = 3 };

/* ------------------------------------------------------------------ the one declaration
 * Everything the rest of the kernel and its Python side (scoring/_native.py, through _kernel.CHECKS,
 * _kernel.PARAMS and _kernel.REASONS) know about the checks comes from these three lists.
 *
 * K_CHECKS: X(name): a built-in check of rubricate.rubrics.checks that the kernel runs, as
 *   `check_<name>` in checks.c. */
#define K_CHECKS(X)                                                                                   \
    X(discovers_tables) X(inspects_schema) X(recovers_from_errors) X(no_repeated_failing_call)       \
    X(grounded_answer) X(answer_correct)

/* K_PARAMS: P(name, kind): an item parameter the checks read, as KItem.<name>. Kinds (how the Python
 * side hands it over): TOOLS, the sorted lower-cased tool names of a `<role>_tools` parameter
 * (KNameSet); KEYS, argument names (KKeys); TEXT, a string (KStr, "" when unset). */
#define K_PARAMS(P)                                                                                   \
    P(discovery_tools, TOOLS) P(query_tools, TOOLS) P(schema_tools, TOOLS) P(answer_tools, TOOLS)   \
    P(entity_args, KEYS) P(sql_args, KEYS) P(entity_separator, TEXT)

/* K_REASONS: R(ID, code, fields): a reason the checks give, as R_<ID>: its code in rubricate's
 * table of reason templates (rubrics/_reasons.py, declared beside each Python check) and the names
 * of the arguments the check passes, in order (space-separated). The text is rendered from the
 * template in Python (score.c memoises it per code and arguments). */
#define K_REASONS(R)                                                                                  \
    R(NO_STEPS, "episode.no_steps", "")                                                               \
    R(DISCOVERS_NO_TOOLS, "discovers_tables.no_tools", "")                                           \
    R(DISCOVERS_NO_CALL, "discovers_tables.no_call", "")                                             \
    R(DISCOVERS_NOT_CALLED, "discovers_tables.not_called", "tools")                                  \
    R(DISCOVERS_QUERY_FIRST, "discovers_tables.query_first", "query discovery")                      \
    R(DISCOVERS_ANSWER_FIRST, "discovers_tables.answer_first", "answer discovery")                   \
    R(DISCOVERS_PASSED, "discovers_tables.passed", "discovery")                                      \
    R(INSPECTS_NO_TOOLS, "inspects_schema.no_tools", "")                                             \
    R(INSPECTS_NO_TABLE_QUERIED, "inspects_schema.no_table_queried", "")                             \
    R(INSPECTS_INSPECTED_ONLY, "inspects_schema.inspected_only", "step")                             \
    R(INSPECTS_NOTHING, "inspects_schema.nothing", "")                                               \
    R(INSPECTS_NO_USE, "inspects_schema.no_use", "")                                                 \
    R(INSPECTS_NOT_INSPECTED, "inspects_schema.not_inspected", "tables")                             \
    R(INSPECTS_PASSED, "inspects_schema.passed", "n")                                                \
    R(RECOVERS_NO_ERROR, "recovers_from_errors.no_error", "")                                        \
    R(RECOVERS_NOT_RECOVERED, "recovers_from_errors.not_recovered", "tool step")                     \
    R(RECOVERS_PASSED, "recovers_from_errors.passed", "n")                                           \
    R(REPEATS_REPEATED, "no_repeated_failing_call.repeated", "step tool failed")                     \
    R(REPEATS_PASSED, "no_repeated_failing_call.passed", "")                                         \
    R(REPEATS_AFTER_FIX, "no_repeated_failing_call.after_fix", "n")                                  \
    R(GROUNDED_NO_ANSWER, "grounded_answer.no_answer", "")                                           \
    R(GROUNDED_NO_NUMBER, "grounded_answer.no_number", "")                                           \
    R(GROUNDED_NO_QUANTITY, "grounded_answer.no_quantity", "")                                       \
    R(GROUNDED_IN_QUESTION, "grounded_answer.in_question", "")                                       \
    R(GROUNDED_NO_OUTPUT, "grounded_answer.no_output", "number")                                     \
    R(GROUNDED_MISSING, "grounded_answer.missing", "missing targets numbers")                        \
    R(GROUNDED_PASSED, "grounded_answer.passed", "n")                                                \
    R(GROUNDED_PASSED_GIVEN, "grounded_answer.passed_given", "n")                                    \
    R(GROUNDED_REFERENCES, "grounded_answer.references", "n")                                        \
    R(CORRECT_NO_TRUTH, "answer_correct.no_truth", "")                                               \
    R(CORRECT_CONTAINS, "answer_correct.contains", "truth")                                          \
    R(CORRECT_NOT_CONTAINS, "answer_correct.not_contains", "truth")                                  \
    R(CORRECT_MATCHES, "answer_correct.matches", "number expected")                                  \
    R(CORRECT_ALL_MATCH, "answer_correct.all_match", "truth")                                        \
    R(CORRECT_PARTS, "answer_correct.parts", "truth")                                                \
    R(CORRECT_ACRONYM, "answer_correct.acronym", "acronym truth")                                    \
    R(CORRECT_NO_ANSWER, "answer_correct.no_answer", "truth said")  /* declared; left to Python */  \
    R(CORRECT_NAMES_OTHER, "answer_correct.names_other", "named truth")  /* declared; left to Python */\
    R(CORRECT_NAMES_MORE, "answer_correct.names_more", "named truth")  /* declared; left to Python */ \
    R(CORRECT_EXPANDS_OTHER, "answer_correct.expands_other", "acronym named truth")  /* declared; left to Python */ \
    R(CORRECT_MODEL_GRADED, "answer_correct.model_graded", "scorer")  /* declared; left to Python */ \
    R(CORRECT_NO_MATCH, "answer_correct.no_match", "numbers expected")                               \
    R(CORRECT_NO_NUMBER, "answer_correct.no_number", "expected")

#define K_MAX_ITEMS 30  /* a verdict signature packs 2 bits an item into 60 bits */

#define K_CHECK_ENUM(name) CHECK_##name,
enum { K_CHECKS(K_CHECK_ENUM) CHECK_COUNT };
#define K_REASON_ENUM(id, code, fields) R_##id,
enum { K_REASONS(K_REASON_ENUM) REASON_COUNT };

/* A set of lower-cased tool names (a rubric parameter such as discovery_tools), sorted. */
typedef struct {
    KStr *names;
    int n;
} KNameSet;

/* Argument names (entity_args, sql_args): NUL-terminated, no NUL inside. */
typedef struct {
    KStr *keys;
    int n;
} KKeys;

typedef KNameSet KParam_TOOLS;
typedef KKeys KParam_KEYS;
typedef KStr KParam_TEXT;

/* One rubric item the kernel runs: which check, with its parameters resolved once. */
#define K_PARAM_FIELD(name, kind) KParam_##kind name;
typedef struct {
    int check;
    K_PARAMS(K_PARAM_FIELD)
} KItem;

/* A growable byte buffer (reasons, lower-cased entities, formatted numbers). */
typedef struct {
    char *p;
    size_t n, cap;
} KBuf;

static inline int buf_reserve(KBuf *b, size_t extra) {
    if (b->n + extra <= b->cap) return K_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra) cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return K_NOMEM;
    }
    b->p = p;
    b->cap = cap;
    return K_OK;
}

static inline int buf_put(KBuf *b, const char *p, size_t n) {
    if (buf_reserve(b, n) != K_OK) return K_NOMEM;
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    return K_OK;
}

/* What a check decided: verdict, reason (its code R_* and arguments, encoded in `reason`: see
 * checks.c's reason_* functions; score.c renders it), evidence (sorted, distinct, in range). */
typedef struct {
    int verdict;
    KBuf reason;
    int *evidence;
    int n_evidence, cap_evidence;
} KOutcome;

/* The encoding of a reason: two bytes of code, then the arguments, each a tag and its value. */
enum { RA_INT = 'i', RA_STR = 's', RA_LIST = '[', RA_TUPLE = '(', RA_END = ')' };
static inline int reason_code(const KBuf *r) { return (unsigned char)r->p[0] | ((unsigned char)r->p[1] << 8); }

/* The episode's final answer as an item's answer tools define it (EpisodeFacts.answer). */
typedef struct {
    int has;
    KStr text;          /* what the patterns read: the answer's ASCII stand-in (see kernel.h) */
    KStr real;          /* the answer as it is (UTF-8): what reasons and _normal_text read */
    int step;
} KAnswer;

/* Scratch space for the checks, reused across episodes. */
typedef struct {
    int answer_ready;           /* `answer` holds the answer for the tools `answer_tools`; 0 after scratch_episode */
    const KNameSet *answer_tools;
    KAnswer answer;
    KNumbers stated, question, given, expected;
    KPool pool;
    KNames names;
    KBuf buf, text, answer_text, plain;
    int *ints;
    int n_ints, cap_ints;
} KScratch;

void scratch_init(KScratch *s);
void scratch_free(KScratch *s);
/* A new episode: forget what was derived from the last one (the cached answer). */
static inline void scratch_episode(KScratch *s) { s->answer_ready = 0; }

/* Run one item on one episode. K_OK (out filled), K_FALLBACK (the Python path must score this
 * episode) or K_NOMEM. */
int run_item(const KItem *item, KEpisode *ep, KScratch *s, KOutcome *out);

#endif
