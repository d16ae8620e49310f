/* The built-in checks on a KEpisode (checks.c), and what score.c gives them. */
#ifndef RUBRICATE_CHECKS_H
#define RUBRICATE_CHECKS_H

#include "kernel.h"

enum { V_PASS = 0, V_FAIL = 1, V_NA = 2, V_ERROR = 3 };

enum {
    CHECK_DISCOVERS_TABLES, CHECK_INSPECTS_SCHEMA, CHECK_RECOVERS_FROM_ERRORS,
    CHECK_NO_REPEATED_FAILING_CALL, CHECK_GROUNDED_ANSWER, CHECK_ANSWER_CORRECT, CHECK_COUNT
};

/* A set of lower-cased tool names (a rubric parameter such as discovery_tools). */
typedef struct {
    KStr *names;
    int n;
} KNameSet;

/* One rubric item the kernel runs: which check, with its parameters resolved once. */
typedef struct {
    int check;
    KNameSet discovery, query, schema, answer;
    KStr *entity_args;      /* NUL-terminated keys */
    int n_entity_args;
    KStr *sql_args;
    int n_sql_args;
    KStr sep;               /* entity_separator ("" = none) */
    PyObject *discovery_names;  /* _names(discovery): "a, b" or "(none configured)" */
} KItem;

/* A growable byte buffer (reasons, lower-cased entities, formatted numbers). */
typedef struct {
    char *p;
    size_t n, cap;
} KBuf;

/* What a check decided: verdict, reason (a new str), evidence (sorted, distinct, in range). */
typedef struct {
    int verdict;
    PyObject *reason;
    int *evidence;
    int n_evidence, cap_evidence;
} KOutcome;

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

/* Run one item on one episode. K_OK (out filled; out->reason is a new reference), K_FALLBACK (the
 * Python path must score this episode) or K_NOMEM. */
int run_item(const KItem *item, KEpisode *ep, KScratch *s, KOutcome *out);

#endif
