/* checks.c: the built-in checks on a KEpisode, exactly as rubricate.rubrics.checks.tool_discipline
 * and .correctness decide them (verdict, reason text, evidence), or K_FALLBACK.
 *
 * Texts: patterns (numbers, number_at, marked_answer, strip) run on the ASCII stand-ins (KStep.text,
 * KEpisode.*_text, KAnswer.text), which match exactly as the real texts do; what a pattern matches
 * there is ASCII and the same in the real text, so the reasons built from it are exact. Equality
 * tests and _normal_text read the real (UTF-8) texts. */
#include "checks.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ small buffers */

static int buf_puts(KBuf *b, const char *s) { return buf_put(b, s, strlen(s)); }

static int buf_int(KBuf *b, long long v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    return buf_put(b, tmp, (size_t)n);
}

static int ints_push(KScratch *s, int v) {
    if (k_grow((void **)&s->ints, &s->cap_ints, s->n_ints, sizeof(int), 64) != K_OK) return K_NOMEM;
    s->ints[s->n_ints++] = v;
    return K_OK;
}

void scratch_init(KScratch *s) {
    memset(s, 0, sizeof *s);
    numbers_init(&s->stated);
    numbers_init(&s->question);
    numbers_init(&s->given);
    numbers_init(&s->expected);
    pool_init(&s->pool);
    names_init(&s->names);
}

void scratch_free(KScratch *s) {
    numbers_free(&s->stated);
    numbers_free(&s->question);
    numbers_free(&s->given);
    numbers_free(&s->expected);
    pool_free(&s->pool);
    names_free(&s->names);
    PyMem_Free(s->buf.p);
    PyMem_Free(s->text.p);
    PyMem_Free(s->answer_text.p);
    PyMem_Free(s->plain.p);
    PyMem_Free(s->ints);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------ outcomes */

static int ev_add(KOutcome *o, int v) {
    if (k_grow((void **)&o->evidence, &o->cap_evidence, o->n_evidence, sizeof(int), 16) != K_OK) return K_NOMEM;
    o->evidence[o->n_evidence++] = v;
    return K_OK;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* passed()/failed(): tuple(sorted(set(evidence))); run_check then drops indices out of range. */
static void ev_finish(KOutcome *o, int n_steps) {
    if (o->n_evidence > 1) qsort(o->evidence, (size_t)o->n_evidence, sizeof(int), cmp_int);
    int k = 0;
    for (int i = 0; i < o->n_evidence; i++) {
        int v = o->evidence[i];
        if (k > 0 && o->evidence[k - 1] == v) continue;
        o->evidence[k++] = v;
    }
    int m = 0;
    for (int i = 0; i < k; i++)
        if (o->evidence[i] >= 0 && o->evidence[i] < n_steps) o->evidence[m++] = o->evidence[i];
    o->n_evidence = m;
}

/* ------------------------------------------------------------------ reasons
 * A check names its reason by code (R_*, checks.h) and passes the arguments the reason's template
 * names, in the declared order; score.c renders the text (Python's table of templates). Encoded in
 * KOutcome.reason: the code in two bytes, then each argument as a tag and its value (RA_INT: 8
 * bytes; RA_STR: a Py_ssize_t length and the UTF-8 bytes; RA_LIST / RA_TUPLE ... RA_END). */

static int reason(KOutcome *o, int verdict, int code) {
    o->verdict = verdict;
    o->reason.n = 0;
    char c[2] = {(char)(code & 0xFF), (char)(code >> 8)};
    return buf_put(&o->reason, c, 2);
}

static int arg_int(KOutcome *o, long long v) {
    char tag = RA_INT;
    return buf_put(&o->reason, &tag, 1) == K_OK ? buf_put(&o->reason, (const char *)&v, sizeof v) : K_NOMEM;
}

static int arg_str(KOutcome *o, const char *p, Py_ssize_t n) {
    char tag = RA_STR;
    if (buf_put(&o->reason, &tag, 1) != K_OK || buf_put(&o->reason, (const char *)&n, sizeof n) != K_OK) return K_NOMEM;
    return buf_put(&o->reason, p, (size_t)n);
}

static int arg_open(KOutcome *o, char tag) { return buf_put(&o->reason, &tag, 1); }

static int arg_close(KOutcome *o) {
    char tag = RA_END;
    return buf_put(&o->reason, &tag, 1);
}

/* A reason and its arguments at once: `args` has one letter per argument: 'i' an int, 's' a KStr,
 * 'n' a const KNameSet * (a list of its names). */
static int say(KOutcome *o, int verdict, int code, const char *args, ...) {
    va_list ap;
    va_start(ap, args);
    int rc = reason(o, verdict, code);
    for (const char *a = args; *a && rc == K_OK; a++) {
        if (*a == 'i') {
            rc = arg_int(o, va_arg(ap, int));
        } else if (*a == 's') {
            KStr str = va_arg(ap, KStr);
            rc = arg_str(o, str.p, str.n);
        } else {
            const KNameSet *set = va_arg(ap, const KNameSet *);
            rc = arg_open(o, RA_LIST);
            for (int i = 0; i < set->n && rc == K_OK; i++) rc = arg_str(o, set->names[i].p, set->names[i].n);
            if (rc == K_OK) rc = arg_close(o);
        }
    }
    va_end(ap);
    return rc;
}

static int na(KOutcome *o, int code) {
    o->n_evidence = 0;
    return reason(o, V_NA, code);
}

/* ------------------------------------------------------------------ episode helpers */

static int in_set(const KNameSet *set, KStr name) {
    for (int i = 0; i < set->n; i++)
        if (set->names[i].n == name.n && memcmp(set->names[i].p, name.p, (size_t)name.n) == 0) return 1;
    return 0;
}

static int kstr_eq(KStr a, KStr b) {
    if (a.p == NULL || b.p == NULL) return a.p == b.p;
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, (size_t)a.n) == 0);
}

static KStr kstrip(KStr s) {
    while (s.n > 0 && k_isspace((unsigned char)s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && k_isspace((unsigned char)s.p[s.n - 1])) s.n--;
    return s;
}

static int succeeded(const KEpisode *ep, const KCall *c) {
    return c->result_step >= 0 && !ep->steps[c->result_step].is_error;
}

static int failed_call(const KEpisode *ep, const KCall *c) {
    return c->result_step >= 0 && ep->steps[c->result_step].is_error;
}

/* _argument_key(a) == _argument_key(b): raw.strip() for arguments that are None, the sorted JSON
 * encoding for a dict; a str never equals bytes. */
static int argkey_equal(KEpisode *ep, const KCall *a, const KCall *b, int *rc) {
    if (!a->args_ok || !b->args_ok) {
        if (a->args_ok != b->args_ok) return 0;
        if (a->raw_wide || b->raw_wide) {  /* str.strip() of non-ASCII text */
            *rc = K_FALLBACK;
            return 0;
        }
        return kstr_eq(kstrip(a->args_raw), kstrip(b->args_raw));
    }
    const JVal *x = a->args ? jv(&ep->doc, a->args) : NULL;
    const JVal *y = b->args ? jv(&ep->doc, b->args) : NULL;
    if ((x && json_has_duplicate_keys(&ep->doc, x)) || (y && json_has_duplicate_keys(&ep->doc, y))) {
        *rc = K_FALLBACK;
        return 0;
    }
    if (!x && !y) return 1;
    if (!x) return y->count == 0;
    if (!y) return x->count == 0;
    return json_equal(&ep->doc, x, y);
}

/* str(value) of a JSON scalar as Python prints it; K_FALLBACK for arrays and objects. */
static int scalar_str(const JVal *v, KBuf *out, KStr *text) {
    out->n = 0;
    switch (v->type) {
    case J_STR:
        *text = v->str;
        return K_OK;
    case J_INT:
        if (buf_int(out, (long long)v->i) != K_OK) return K_NOMEM;
        break;
    case J_FLOAT: {
        char *r = PyOS_double_to_string(v->f, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (r == NULL) return K_NOMEM;
        int rc = buf_puts(out, r);
        PyMem_Free(r);
        if (rc != K_OK) return rc;
        break;
    }
    case J_TRUE:
        if (buf_puts(out, "True") != K_OK) return K_NOMEM;
        break;
    case J_FALSE:
        if (buf_puts(out, "False") != K_OK) return K_NOMEM;
        break;
    case J_NULL:
        if (buf_puts(out, "None") != K_OK) return K_NOMEM;
        break;
    default:
        return K_FALLBACK;
    }
    text->p = out->p;
    text->n = (Py_ssize_t)out->n;
    return K_OK;
}

static int same_names(const KNameSet *a, const KNameSet *b) {
    if (a == b) return 1;
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (!in_set(b, a->names[i])) return 0;
    return 1;
}

static int derive_answer(const KItem *it, KEpisode *ep, KScratch *s, KAnswer *a);

/* EpisodeFacts.answer: derived once per episode and answer-tool set, shared by the items. */
static int find_answer(const KItem *it, KEpisode *ep, KScratch *s, KAnswer *a) {
    if (s->answer_ready && same_names(s->answer_tools, &it->answer_tools)) {
        *a = s->answer;
        return K_OK;
    }
    int rc = derive_answer(it, ep, s, a);
    if (rc == K_OK) {
        s->answer = *a;
        s->answer_tools = &it->answer_tools;
        s->answer_ready = 1;
    }
    return rc;
}

/* The last answer-tool call's `answer` argument (else its first scalar argument, else its raw
 * arguments), else the final answer and the last assistant step saying it. */
static int derive_answer(const KItem *it, KEpisode *ep, KScratch *s, KAnswer *a) {
    a->has = 0;
    if (it->answer_tools.n) {
        const KCall *last = NULL;
        for (int i = 0; i < ep->n_calls; i++)
            if (in_set(&it->answer_tools, ep->calls[i].lname)) last = &ep->calls[i];
        if (last != NULL) {
            a->has = 1;
            a->step = last->step;
            const JVal *args = (last->args_ok && last->args) ? jv(&ep->doc, last->args) : NULL;
            if (args == NULL) {
                if (last->raw_wide) return K_FALLBACK;  /* answers from arguments: ASCII only */
                a->text = a->real = last->args_raw;
                return K_OK;
            }
            if (json_has_duplicate_keys(&ep->doc, args)) return K_FALLBACK;
            const JVal *value = json_get(&ep->doc, args, "answer");
            if (value == NULL) {
                for (uint32_t k = args->first; k; k = jv(&ep->doc, k)->next) {
                    const JVal *m = jv(&ep->doc, k);
                    if (m->type == J_STR || m->type == J_INT || m->type == J_FLOAT || m->type == J_TRUE ||
                        m->type == J_FALSE) {
                        value = m;
                        break;
                    }
                }
            }
            if (value == NULL) {
                if (last->raw_wide) return K_FALLBACK;
                a->text = a->real = last->args_raw;
                return K_OK;
            }
            if (value->type == J_STR && value->wide) return K_FALLBACK;
            int rc = scalar_str(value, &s->answer_text, &a->text);
            a->real = a->text;
            return rc;
        }
    }
    if (ep->final_answer.p == NULL) return K_OK;
    a->has = 1;
    a->text = ep->final_text;
    a->real = ep->final_answer;
    a->step = ep->n_steps - 1;
    for (int i = ep->n_steps - 1; i >= 0; i--) {
        const KStep *st = &ep->steps[i];
        if (st->role == ROLE_ASSISTANT && kstr_eq(st->content, ep->final_answer)) {
            a->step = i;
            break;
        }
    }
    return K_OK;
}

/* ------------------------------------------------------------------ discovers_tables */

static int check_discovers_tables(const KItem *it, KEpisode *ep, KScratch *s, KOutcome *o) {
    if (it->discovery_tools.n == 0) return na(o, R_DISCOVERS_NO_TOOLS);
    if (ep->n_calls == 0) return reason(o, V_FAIL, R_DISCOVERS_NO_CALL);
    int fd = -1, fq = -1;
    for (int i = 0; i < ep->n_calls; i++) {
        const KCall *c = &ep->calls[i];
        if (fd < 0 && in_set(&it->discovery_tools, c->lname)) fd = c->step;
        if (fq < 0 && in_set(&it->query_tools, c->lname)) fq = c->step;
    }
    if (fd < 0) {
        if (fq >= 0 && ev_add(o, fq) != K_OK) return K_NOMEM;
        return say(o, V_FAIL, R_DISCOVERS_NOT_CALLED, "n", &it->discovery_tools);
    }
    if (fq >= 0 && fq <= fd) {
        if (ev_add(o, fq) != K_OK || ev_add(o, fd) != K_OK) return K_NOMEM;
        return say(o, V_FAIL, R_DISCOVERS_QUERY_FIRST, "ii", fq, fd);
    }
    KAnswer a;
    int rc = find_answer(it, ep, s, &a);
    if (rc != K_OK) return rc;
    if (a.has && a.step <= fd) {
        if (ev_add(o, a.step) != K_OK || ev_add(o, fd) != K_OK) return K_NOMEM;
        return say(o, V_FAIL, R_DISCOVERS_ANSWER_FIRST, "ii", a.step, fd);
    }
    if (ev_add(o, fd) != K_OK) return K_NOMEM;
    return say(o, V_PASS, R_DISCOVERS_PASSED, "i", fd);
}

/* ------------------------------------------------------------------ inspects_schema */

/* Entities of one call, gathered as (offset, length) in s->text, distinct, then sorted. */
typedef struct {
    size_t off;
    Py_ssize_t n;
    int step;
} KEntity;

typedef struct {
    KEntity *items;
    int n, cap;
} KEntities;

static int ents_find(const KEntities *e, const KBuf *text, const char *p, Py_ssize_t n) {
    for (int i = 0; i < e->n; i++)
        if (e->items[i].n == n && (n == 0 || memcmp(text->p + e->items[i].off, p, (size_t)n) == 0)) return i;
    return -1;
}

static int ents_push(KEntities *e, size_t off, Py_ssize_t n, int step) {
    if (k_grow((void **)&e->items, &e->cap, e->n, sizeof(KEntity), 16) != K_OK) return K_NOMEM;
    e->items[e->n].off = off;
    e->items[e->n].n = n;
    e->items[e->n].step = step;
    e->n++;
    return K_OK;
}

/* Add `p[0:n]` lower-cased to the call's entity set (kept in s->text); `wide`: it holds non-ASCII
 * (UTF-8: the order and equality of the bytes are those of the characters). */
static int call_entity_add(KEntities *call, KBuf *text, const char *p, Py_ssize_t n, int wide) {
    size_t off = text->n;
    if (buf_reserve(text, 2 * (size_t)n) != K_OK) return K_NOMEM;
    if (wide) {
        n = text_lower(p, n, text->p + off);
        if (n < 0) return K_FALLBACK;
    } else {
        for (Py_ssize_t i = 0; i < n; i++) text->p[off + (size_t)i] = (char)k_lower((unsigned char)p[i]);
    }
    if (ents_find(call, text, text->p + off, n) >= 0) return K_OK;  /* already there: the bytes are dropped below */
    text->n += (size_t)n;
    return ents_push(call, off, n, 0);
}

static const char *sort_base;
static int cmp_entity(const void *a, const void *b) {
    const KEntity *x = a, *y = b;
    Py_ssize_t n = x->n < y->n ? x->n : y->n;
    int c = n ? memcmp(sort_base + x->off, sort_base + y->off, (size_t)n) : 0;
    if (c) return c;
    return (x->n > y->n) - (x->n < y->n);
}

/* _entities(call.arguments, entity_args, sep, sql_args if with_sql else ()) into `call`. */
static int call_entities(const KItem *it, KEpisode *ep, const KCall *c, int with_sql, KScratch *s, KEntities *call) {
    call->n = 0;
    if (!c->args_ok || c->args == 0) return K_OK;
    const JVal *args = jv(&ep->doc, c->args);
    if (args->count == 0) return K_OK;
    for (int k = 0; k < it->entity_args.n; k++) {
        const JVal *value = json_get(&ep->doc, args, it->entity_args.keys[k].p);
        if (value == NULL || value->type == J_NULL) continue;
        uint32_t idx = 0;
        const JVal *v = value;
        if (value->type == J_ARR) {
            idx = value->first;
            v = idx ? jv(&ep->doc, idx) : NULL;
        }
        while (v != NULL) {
            if (v->type == J_STR && (v->wide ? text_strip(v->str) : kstrip(v->str)).n > 0) {
                KStr part = v->str;
                KStr sep = it->entity_separator;
                if (sep.n > 0) {
                    for (Py_ssize_t i = 0; i + sep.n <= part.n; i++)
                        if (memcmp(part.p + i, sep.p, (size_t)sep.n) == 0) {
                            part.n = i;
                            break;
                        }
                }
                part = v->wide ? text_strip(part) : kstrip(part);
                int rc = call_entity_add(call, &s->text, part.p, part.n, v->wide);
                if (rc != K_OK) return rc;
            }
            if (value->type != J_ARR) break;
            idx = v->next;
            v = idx ? jv(&ep->doc, idx) : NULL;
        }
    }
    if (with_sql) {
        for (int k = 0; k < it->sql_args.n; k++) {
            const JVal *value = json_get(&ep->doc, args, it->sql_args.keys[k].p);
            if (value == NULL || value->type != J_STR) continue;
            if (value->wide) return K_FALLBACK;  /* tables_in is ASCII-only */
            names_clear(&s->names);
            int rc = sql_tables(value->str.p, value->str.n, &s->names);
            if (rc != K_OK) return rc;
            for (int i = 0; i < s->names.n; i++)
                if (call_entity_add(call, &s->text, s->names.items[i].p, s->names.items[i].n, 0) != K_OK) return K_NOMEM;
        }
    }
    if (call->n > 1) {
        sort_base = s->text.p;
        qsort(call->items, (size_t)call->n, sizeof(KEntity), cmp_entity);
    }
    return K_OK;
}

typedef struct {
    KEntities call, inspected, queried;
} KSchemaState;

static void schema_state_free(KSchemaState *st) {
    PyMem_Free(st->call.items);
    PyMem_Free(st->inspected.items);
    PyMem_Free(st->queried.items);
}

/* setdefault(entity, step) for every entity of the call, in sorted order. */
static int setdefault_all(KEntities *map, const KEntities *call, const KBuf *text, int step) {
    for (int i = 0; i < call->n; i++) {
        const KEntity *e = &call->items[i];
        if (ents_find(map, text, text->p + e->off, e->n) >= 0) continue;
        if (ents_push(map, e->off, e->n, step) != K_OK) return K_NOMEM;
    }
    return K_OK;
}

static int check_inspects_schema(const KItem *it, KEpisode *ep, KScratch *s, KOutcome *o) {
    if (it->schema_tools.n == 0) return na(o, R_INSPECTS_NO_TOOLS);
    KSchemaState st;
    memset(&st, 0, sizeof st);
    s->text.n = 0;
    int any_inspection = -1, any_query = -1, rc = K_OK;
    for (int i = 0; i < ep->n_calls && rc == K_OK; i++) {
        const KCall *c = &ep->calls[i];
        if (in_set(&it->schema_tools, c->lname)) {
            if (c->result_step < 0 || ep->steps[c->result_step].is_error) continue;
            if (any_inspection < 0) any_inspection = c->step;
            rc = call_entities(it, ep, c, 0, s, &st.call);
            if (rc == K_OK) rc = setdefault_all(&st.inspected, &st.call, &s->text, c->step);
        } else if (in_set(&it->query_tools, c->lname)) {
            if (any_query < 0) any_query = c->step;
            rc = call_entities(it, ep, c, 1, s, &st.call);
            if (rc == K_OK) rc = setdefault_all(&st.queried, &st.call, &s->text, c->step);
        }
    }
    if (rc != K_OK) goto done;
    if (st.queried.n == 0 && any_query >= 0) {
        rc = ev_add(o, any_query);
        if (rc == K_OK) rc = reason(o, V_PASS, R_INSPECTS_NO_TABLE_QUERIED);
        goto done;
    }
    if (st.queried.n == 0) {
        KAnswer a;
        rc = find_answer(it, ep, s, &a);
        if (rc != K_OK) goto done;
        int end = a.has ? a.step : ep->n_steps;
        if (any_inspection >= 0 && any_inspection < end) {
            rc = ev_add(o, any_inspection);
            if (rc == K_OK) rc = say(o, V_PASS, R_INSPECTS_INSPECTED_ONLY, "i", any_inspection);
        } else if (!a.has) {
            rc = na(o, R_INSPECTS_NO_USE);
        } else {
            rc = reason(o, V_FAIL, R_INSPECTS_NOTHING);
        }
        goto done;
    }
    /* the first five tables queried before their schema was inspected, as (name, step) */
    int n_missing = 0;
    rc = reason(o, V_FAIL, R_INSPECTS_NOT_INSPECTED);
    if (rc == K_OK) rc = arg_open(o, RA_LIST);
    for (int i = 0; i < st.queried.n && rc == K_OK; i++) {
        const KEntity *q = &st.queried.items[i];
        int j = ents_find(&st.inspected, &s->text, s->text.p + q->off, q->n);
        int ins = j >= 0 ? st.inspected.items[j].step : q->step;
        if (ins < q->step) continue;
        if (n_missing < 5) {
            rc = arg_open(o, RA_TUPLE);
            if (rc == K_OK) rc = arg_str(o, s->text.p + q->off, q->n);
            if (rc == K_OK) rc = arg_int(o, q->step);
            if (rc == K_OK) rc = arg_close(o);
        }
        if (rc == K_OK) rc = ev_add(o, q->step);
        n_missing++;
    }
    if (rc == K_OK) rc = arg_close(o);
    if (rc != K_OK || n_missing) goto done;
    o->n_evidence = 0;
    for (int i = 0; i < st.queried.n && rc == K_OK; i++) {
        const KEntity *q = &st.queried.items[i];
        int j = ents_find(&st.inspected, &s->text, s->text.p + q->off, q->n);
        rc = ev_add(o, st.inspected.items[j].step);
    }
    for (int i = 0; i < st.queried.n && rc == K_OK; i++) rc = ev_add(o, st.queried.items[i].step);
    if (rc == K_OK) rc = say(o, V_PASS, R_INSPECTS_PASSED, "i", st.queried.n);
done:
    schema_state_free(&st);
    return rc;
}

/* ------------------------------------------------------------------ error recovery */

static int check_recovers_from_errors(const KItem *it, KEpisode *ep, KScratch *s, KOutcome *o) {
    int n_failures = 0;
    for (int i = 0; i < ep->n_calls; i++) n_failures += failed_call(ep, &ep->calls[i]);
    if (n_failures == 0) return na(o, R_RECOVERS_NO_ERROR);
    KAnswer a;
    int rc = find_answer(it, ep, s, &a);
    if (rc != K_OK) return rc;
    int end = a.has ? a.step : ep->n_steps;
    for (int i = 0; i < ep->n_calls; i++) {
        const KCall *c = &ep->calls[i];
        if (!failed_call(ep, c)) continue;
        int error_step = c->result_step, fix = -1;
        for (int j = 0; j < ep->n_calls && fix < 0; j++) {
            const KCall *later = &ep->calls[j];
            if (!(error_step < later->step && later->step < end)) continue;
            if (!kstr_eq(later->lname, c->lname)) continue;
            int same = argkey_equal(ep, later, c, &rc);
            if (rc != K_OK) return rc;
            if (!same && succeeded(ep, later)) fix = later->step;
        }
        if (fix < 0) {
            o->n_evidence = 0;
            if (ev_add(o, c->step) != K_OK) return K_NOMEM;
            if (error_step && ev_add(o, error_step) != K_OK) return K_NOMEM;
            return say(o, V_FAIL, R_RECOVERS_NOT_RECOVERED, "si", c->name, error_step);
        }
        if (ev_add(o, error_step ? error_step : c->step) != K_OK || ev_add(o, fix) != K_OK) return K_NOMEM;
    }
    return say(o, V_PASS, R_RECOVERS_PASSED, "i", n_failures);
}

/* Same tool name and argument key (Python's (call.name, _argument_key(...)) tuple): 1, 0, or 0 with
 * *rc set to K_FALLBACK. */
static int same_call(KEpisode *ep, const KCall *a, const KCall *b, int *rc) {
    return kstr_eq(a->name, b->name) && argkey_equal(ep, a, b, rc);
}

/* changes_state: a word of the lower-cased tool name (runs of [a-z0-9]) is one of EFFECT_WORDS
 * (tool_discipline.py). A name with non-ASCII characters is left to Python (str.lower). */
static const char *const EFFECT_WORDS[] = {
    "execute", "exec", "run", "bash", "shell", "sh", "python", "ipython", "code", "command", "cmd", "terminal",
    "write", "create", "edit", "editor", "replace", "insert", "append", "save", "put", "patch", "apply", "install",
    "mkdir", "touch", "move", "rename", "copy", "upload", "delete", "remove", "update", "modify", "set", "add",
};

static inline int k_isalnum_lower(unsigned char c) { return (c >= 'a' && c <= 'z') || k_isdigit(c); }

static int changes_state(KStr name, int *rc) {
    for (Py_ssize_t i = 0; i < name.n; i++)
        if ((unsigned char)name.p[i] >= 0x80) {
            *rc = K_FALLBACK;
            return 0;
        }
    Py_ssize_t i = 0;
    while (i < name.n) {
        while (i < name.n && !k_isalnum_lower((unsigned char)name.p[i])) i++;
        Py_ssize_t start = i;
        while (i < name.n && k_isalnum_lower((unsigned char)name.p[i])) i++;
        if (i == start) break;
        for (size_t w = 0; w < sizeof EFFECT_WORDS / sizeof *EFFECT_WORDS; w++)
            if ((Py_ssize_t)strlen(EFFECT_WORDS[w]) == i - start && memcmp(EFFECT_WORDS[w], name.p + start, (size_t)(i - start)) == 0)
                return 1;
    }
    return 0;
}

/* The call at position k is new: no call before it has its name and argument key. */
static int new_call(KEpisode *ep, int k, int *rc) {
    for (int i = 0; i < k; i++) {
        int same = same_call(ep, &ep->calls[i], &ep->calls[k], rc);
        if (*rc != K_OK || same) return 0;
    }
    return 1;
}

/* The fix a repeat of the failure at step `earlier` rests on: the step of a new call before position k,
 * after the failure, of a tool that changes state, that succeeded; -1 when there is none. */
static int fix_before(KEpisode *ep, int k, int earlier, int *rc) {
    for (int j = 0; j < k; j++) {
        const KCall *other = &ep->calls[j];
        if (other->step <= earlier || !succeeded(ep, other)) continue;
        int effect = changes_state(other->lname, rc);
        if (*rc != K_OK) return -1;
        if (!effect) continue;
        int fresh = new_call(ep, j, rc);
        if (*rc != K_OK) return -1;
        if (fresh) return other->step;
    }
    return -1;
}

static int check_no_repeated_failing_call(const KItem *it, KEpisode *ep, KScratch *s, KOutcome *o) {
    (void)it;
    (void)s;
    int any_error = 0, n_fixed = 0, rc = K_OK;
    for (int k = 0; k < ep->n_calls; k++) {
        const KCall *c = &ep->calls[k];
        int earlier = -1;  /* the result step of the last failure of this call's key */
        for (int j = 0; j < k; j++) {
            const KCall *f = &ep->calls[j];
            if (!failed_call(ep, f)) continue;
            int same = same_call(ep, f, c, &rc);
            if (rc != K_OK) return rc;
            if (same) earlier = f->result_step;
        }
        if (earlier >= 0 && earlier < c->step) {
            int fix = fix_before(ep, k, earlier, &rc);
            if (rc != K_OK) return rc;
            if (fix < 0) {
                o->n_evidence = 0;
                if (ev_add(o, earlier) != K_OK || ev_add(o, c->step) != K_OK) return K_NOMEM;
                return say(o, V_FAIL, R_REPEATS_REPEATED, "isi", c->step, c->name, earlier);
            }
            if (ev_add(o, earlier) != K_OK || ev_add(o, fix) != K_OK || ev_add(o, c->step) != K_OK) return K_NOMEM;
            n_fixed++;
        }
        any_error |= failed_call(ep, c);
    }
    if (!any_error) return na(o, R_RECOVERS_NO_ERROR);
    if (n_fixed) return say(o, V_PASS, R_REPEATS_AFTER_FIX, "i", n_fixed);
    o->n_evidence = 0;
    return reason(o, V_PASS, R_REPEATS_PASSED);
}

/* ------------------------------------------------------------------ grounded_answer */

/* The texts grounded_answer reads before the answer: the successful tool outputs, and what the
 * agent was given (system and user turns). */
enum { SRC_OUTPUT = 1, SRC_GIVEN = 2 };

static inline int is_source(const KStep *st, int which) {
    if (st->text.n == 0) return 0;
    if (st->role == ROLE_TOOL) return (which & SRC_OUTPUT) && !st->is_error;
    return (which & SRC_GIVEN) && (st->role == ROLE_SYSTEM || st->role == ROLE_USER);
}

/* _id_tail: a number of three or more plain digits that ends an identifier in a source. */
static int id_tail(const KNumber *t, const KEpisode *ep, int answer_step) {
    if (t->text.n < 3) return 0;
    for (Py_ssize_t i = 0; i < t->text.n; i++)
        if (!k_isdigit((unsigned char)t->text.p[i])) return 0;
    for (int i = 0; i < answer_step && i < ep->n_steps; i++) {
        const KStep *st = &ep->steps[i];
        if (is_source(st, SRC_OUTPUT | SRC_GIVEN) && id_tail_at(st->text.p, st->text.n, t->text.p, t->text.n)) return 1;
    }
    return 0;
}

/* _literal_source: the digits of the number as written, looked up as whole numbers in each source
 * of kind `which`; the step, -1, or -2 (out of memory). */
static int literal_source(const KNumber *t, const KEpisode *ep, int answer_step, int which, KBuf *plain_buf) {
    const char *p = t->text.p;
    Py_ssize_t n = t->text.n;
    while (n > 0 && (*p == '$' || *p == '-')) {
        p++;
        n--;
    }
    while (n > 0 && k_isspace((unsigned char)*p)) {
        p++;
        n--;
    }
    Py_ssize_t w = 0;
    while (w < n && !k_isspace((unsigned char)p[w])) w++;
    n = w;
    while (n > 0 && p[n - 1] == '%') n--;
    if (n > 0 && ((p[n - 1] | 32) >= 'a' && (p[n - 1] | 32) <= 'z'))
        while (n > 0 && strchr("kmbnKMBN", p[n - 1]) != NULL && p[n - 1] != '\0') n--;
    plain_buf->n = 0;
    int has_comma = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] == ',') {
            has_comma = 1;
            continue;
        }
        if (buf_put(plain_buf, p + i, 1) != K_OK) return -2;
    }
    for (int i = 0; i < answer_step && i < ep->n_steps; i++) {
        const KStep *st = &ep->steps[i];
        if (!is_source(st, which)) continue;
        if (number_at(st->text.p, st->text.n, p, n) ||
            (has_comma && number_at(st->text.p, st->text.n, plain_buf->p, (Py_ssize_t)plain_buf->n)))
            return i;
    }
    return -1;
}

static int decimals_for(const KNumber *t, double value) {
    double ratio = value != 0.0 ? fabs(t->value / value) : 0.0;
    if (ratio == 0.0 || !isfinite(ratio)) return t->decimals;
    return t->decimals + (int)nearbyint(log10(ratio));
}

/* One target found in the tool outputs, literally or in the pool (built on first use): 1 (its
 * source steps added to the evidence), 0, or K_NOMEM as -1. */
static int pool_source(const KNumber *t, KEpisode *ep, int answer_step, KScratch *s, int *pool_ready, KOutcome *o) {
    if (!*pool_ready) {
        pool_clear(&s->pool);
        for (int k = 0; k < answer_step && k < ep->n_steps; k++) {
            const KStep *st = &ep->steps[k];
            if (is_source(st, SRC_OUTPUT) && pool_add_text(&s->pool, st->text.p, st->text.n, k) != K_OK) return -1;
        }
        if (pool_build(&s->pool) != K_OK) return -1;
        *pool_ready = 1;
    }
    double cands[6];
    int nc = number_candidates(t, cands);
    for (int k = 0; k < nc; k++) {
        int j = pool_find(&s->pool, cands[k], decimals_for(t, cands[k]));
        if (j >= 0) return ev_add(o, s->pool.steps[j]) == K_OK ? 1 : -1;
    }
    for (int k = 0; k < nc; k++) {
        int x, y;
        if (pool_derive(&s->pool, cands[k], decimals_for(t, cands[k]), &x, &y))
            return ev_add(o, s->pool.steps[x]) == K_OK && ev_add(o, s->pool.steps[y]) == K_OK ? 1 : -1;
    }
    return 0;
}

/* _references: an answer that states no quantity passes when the numbers of its dates, times and
 * identifiers (list ordinals and identifier tails aside) are all whole numbers of tool outputs; else na. */
static int grounded_references(KEpisode *ep, KScratch *s, const KAnswer *a, KOutcome *o) {
    s->stated.n = 0;
    int rc = numbers_find(a->text.p, a->text.n, &s->stated), found = 0;
    if (rc != K_OK) return rc;
    o->n_evidence = 0;
    if (ev_add(o, a->step) != K_OK) return K_NOMEM;
    for (int i = 0; i < s->stated.n; i++) {
        const KNumber *t = &s->stated.items[i];
        int ordinal = number_is_list_ordinal(a->text.p, a->text.n, t->text.p - a->text.p);
        if (ordinal || id_tail(t, ep, a->step)) continue;
        int source = literal_source(t, ep, a->step, SRC_OUTPUT, &s->plain);
        if (source == -2) return K_NOMEM;
        if (source < 0) return na(o, R_GROUNDED_NO_QUANTITY);
        if (ev_add(o, source) != K_OK) return K_NOMEM;
        found++;
    }
    if (!found) return na(o, R_GROUNDED_NO_QUANTITY);
    return say(o, V_PASS, R_GROUNDED_REFERENCES, "i", found);
}

static int check_grounded_answer(const KItem *it, KEpisode *ep, KScratch *s, KOutcome *o) {
    KAnswer a;
    int rc = find_answer(it, ep, s, &a);
    if (rc != K_OK) return rc;
    if (!a.has) return na(o, R_GROUNDED_NO_ANSWER);
    s->stated.n = 0;
    if ((rc = numbers_find(a.text.p, a.text.n, &s->stated)) != K_OK) return rc;
    if (s->stated.n == 0) return na(o, R_GROUNDED_NO_NUMBER);
    numbers_keep_quantities(a.text.p, a.text.n, &s->stated);
    int kept = 0;
    for (int i = 0; i < s->stated.n; i++)
        if (!id_tail(&s->stated.items[i], ep, a.step)) s->stated.items[kept++] = s->stated.items[i];
    s->stated.n = kept;
    if (s->stated.n == 0) return grounded_references(ep, s, &a, o);
    s->question.n = 0;
    if (ep->question.p != NULL && (rc = numbers_find(ep->question_text.p, ep->question_text.n, &s->question)) != K_OK)
        return rc;
    /* the targets: the quantities whose value the question does not hold, kept in s->stated */
    int n_targets = 0;
    for (int i = 0; i < s->stated.n; i++) {
        int in_question = 0;
        for (int k = 0; k < s->question.n && !in_question; k++) in_question = s->question.items[k].value == s->stated.items[i].value;
        if (!in_question) s->stated.items[n_targets++] = s->stated.items[i];
    }
    s->stated.n = n_targets;
    if (ev_add(o, a.step) != K_OK) return K_NOMEM;
    if (n_targets == 0) return reason(o, V_PASS, R_GROUNDED_IN_QUESTION);
    int any_output = 0;
    for (int i = 0; i < a.step && i < ep->n_steps && !any_output; i++) any_output = is_source(&ep->steps[i], SRC_OUTPUT);
    int pool_ready = 0, n_missing = 0, from_given = 0;
    s->n_ints = 0;  /* the first five targets not found (indices into s->stated) */
    for (int i = 0; i < n_targets; i++) {
        const KNumber *t = &s->stated.items[i];
        int source = literal_source(t, ep, a.step, SRC_OUTPUT, &s->plain), found = source >= 0;
        if (source == -2) return K_NOMEM;
        if (found && ev_add(o, source) != K_OK) return K_NOMEM;
        if (!found && any_output && (found = pool_source(t, ep, a.step, s, &pool_ready, o)) < 0) return K_NOMEM;
        if (!found) {
            source = literal_source(t, ep, a.step, SRC_GIVEN, &s->plain);
            if (source == -2) return K_NOMEM;
            if ((found = source >= 0) && ev_add(o, source) != K_OK) return K_NOMEM;
            from_given |= found;
        }
        if (!found) {
            if (n_missing < 5 && ints_push(s, i) != K_OK) return K_NOMEM;
            n_missing++;
        }
    }
    if (n_missing) {
        o->n_evidence = 0;
        if (ev_add(o, a.step) != K_OK) return K_NOMEM;
        const KNumber *first = &s->stated.items[s->ints[0]];
        if (!any_output) return say(o, V_FAIL, R_GROUNDED_NO_OUTPUT, "s", first->text);
        if (say(o, V_FAIL, R_GROUNDED_MISSING, "ii", n_missing, n_targets) != K_OK || arg_open(o, RA_LIST) != K_OK)
            return K_NOMEM;
        for (int k = 0; k < s->n_ints; k++)
            if (arg_str(o, s->stated.items[s->ints[k]].text.p, s->stated.items[s->ints[k]].text.n) != K_OK) return K_NOMEM;
        return arg_close(o);
    }
    return say(o, V_PASS, from_given ? R_GROUNDED_PASSED_GIVEN : R_GROUNDED_PASSED, "i", n_targets);
}

/* ------------------------------------------------------------------ answer_correct */

/* truth[:80]: 80 characters, not bytes, of UTF-8 text. */
static KStr head_chars(KStr text, int chars) {
    Py_ssize_t i = 0;
    for (int seen = 0; i < text.n; i++)
        if (((unsigned char)text.p[i] & 0xC0) != 0x80 && seen++ == chars) break;
    text.n = i;
    return text;
}

/* True when `s` may hold a number written as words (correctness._given reads those, through
 * _numbers.SPELLED): one of its words, case-insensitive, with no ASCII word character on either side.
 * SPELLED is an ASCII pattern, so this finds every text it matches (and some more, such as "hundred"
 * alone); the caller leaves those answers to Python. */
static const char *const NUMBER_WORDS[] = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty",
    "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million", "billion"};

static inline int ascii_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int has_number_word(const char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!ascii_word((unsigned char)s[i]) || (i > 0 && ascii_word((unsigned char)s[i - 1]))) continue;
        Py_ssize_t end = i;
        while (end < n && ascii_word((unsigned char)s[end])) end++;
        for (size_t w = 0; w < sizeof NUMBER_WORDS / sizeof *NUMBER_WORDS; w++) {
            size_t len = strlen(NUMBER_WORDS[w]);
            if ((size_t)(end - i) != len) continue;
            size_t k = 0;
            while (k < len && (s[i + k] | 0x20) == NUMBER_WORDS[w][k]) k++;
            if (k == len) return 1;
        }
        i = end;
    }
    return 0;
}

/* correctness._matches: `num` (or a value it stands for) gives the truth `target` at its precision. */
static int answer_matches(const KNumber *num, const KNumber *target) {
    double wants[6], values[6];
    int nw = number_candidates(target, wants), nv = number_candidates(num, values);
    int whole = target->decimals == 0 && target->scale == 1.0 && !target->percent;
    for (int x = 0; x < nv; x++)
        for (int y = 0; y < nw; y++) {
            if (whole) {
                if (number_close(values[x], wants[y], 0, 0.0, 0.0)) return 1;
            } else {
                int written = values[x] == num->value && wants[y] == target->value;
                if (number_close(values[x], wants[y], written ? target->decimals : 12, 0.01, 0.0)) return 1;
            }
        }
    return 0;
}

/* _normal_text(text) of UTF-8 text into b, between two spaces (" {...} "); its length, or -1 where
 * normal_text does not reproduce it, or -2 (K_NOMEM) */
static Py_ssize_t spaced_normal(KBuf *b, KStr text) {
    b->n = 0;
    if (buf_reserve(b, 2 * (size_t)text.n + 3) != K_OK) return -2;
    b->p[0] = ' ';
    Py_ssize_t m = normal_text(text.p, text.n, b->p + 1);
    if (m < 0) return -1;
    b->p[m + 1] = ' ';
    return m + 2;
}

/* correctness._contains: the normalised `want` (spaced, wn bytes; "  " when empty) in the spaced
 * normalised answer (g, gn bytes). A match starts with ' ', so it starts on a character. */
static int spaced_in(const char *w, Py_ssize_t wn, const char *g, Py_ssize_t gn) {
    if (wn <= 2) return 0;
    for (Py_ssize_t i = 0; i + wn <= gn; i++)
        if (memcmp(g + i, w, (size_t)wn) == 0) return 1;
    return 0;
}

/* The truth holds a character above ASCII: 0 none, 1 some but no Unicode white space, -1 a white
 * space (U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000: what
 * str.split() splits on beyond ASCII). */
static int non_ascii(KStr t) {
    int seen = 0;
    for (Py_ssize_t i = 0; i < t.n; i++) {
        const unsigned char *c = (const unsigned char *)t.p + i;
        if (*c < 0x80) continue;
        seen = 1;
        Py_ssize_t left = t.n - i;
        if (c[0] == 0xC2 && left >= 2 && (c[1] == 0x85 || c[1] == 0xA0)) return -1;
        if (c[0] == 0xE1 && left >= 3 && c[1] == 0x9A && c[2] == 0x80) return -1;
        if (c[0] == 0xE2 && left >= 3 && c[1] == 0x80 &&
            (c[2] <= 0x8A || c[2] == 0xA8 || c[2] == 0xA9 || c[2] == 0xAF)) return -1;
        if (c[0] == 0xE2 && left >= 3 && c[1] == 0x81 && c[2] == 0x9F) return -1;
        if (c[0] == 0xE3 && left >= 3 && c[1] == 0x80 && c[2] == 0x80) return -1;
    }
    return seen;
}

/* The end of the _PART_SEPARATORS match at t[i] ([,;&] or a whole word "and", any case; the spaces
 * around do not change a part once normalised), -1 for none, -3 where a character above ASCII
 * beside an "and" decides its \b (the kernel declines). */
static Py_ssize_t part_separator(KStr t, Py_ssize_t i) {
    char c = t.p[i];
    if (c == ',' || c == ';' || c == '&') return i + 1;
    if (i + 3 > t.n || (c | 0x20) != 'a' || (t.p[i + 1] | 0x20) != 'n' || (t.p[i + 2] | 0x20) != 'd') return -1;
    unsigned char before = i ? (unsigned char)t.p[i - 1] : ' ', after = i + 3 < t.n ? (unsigned char)t.p[i + 3] : ' ';
    if (before >= 0x80 || after >= 0x80) return -3;
    return ascii_word(before) || ascii_word(after) ? -1 : i + 3;
}

/* The parts rule of _text_outcome: 1 when the truth has two or more parts, none empty once
 * normalised, each in the answer (g, gn: spaced normalised); 0 otherwise; -2 K_NOMEM; K_FALLBACK. */
static int all_parts_in(KBuf *w, KStr t, const char *g, Py_ssize_t gn) {
    int parts = 0, all_in = 1;
    Py_ssize_t from = 0;
    for (Py_ssize_t i = 0; i <= t.n; i++) {
        Py_ssize_t end = i < t.n ? part_separator(t, i) : i + 1;
        if (end == -3) return K_FALLBACK;
        if (end < 0) continue;
        KStr part = {t.p + from, i - from};
        Py_ssize_t wn = spaced_normal(w, part);
        if (wn == -2) return -2;
        if (wn == -1) return K_FALLBACK;
        if (wn <= 2) return 0;  /* an empty part: the rule does not apply */
        if (all_in && !spaced_in(w->p, wn, g, gn)) all_in = 0;
        parts++;
        from = end;
        i = end - 1;
    }
    return parts > 1 && all_in;
}

static const char *const SMALL_WORDS[] = {"of", "the", "and", "for", "a", "an", "in", "on", "to", "at", "by", "de"};

/* correctness._initials of a truth with no character above ASCII into out (capacity t.n): its
 * length, or 0 for None. */
static int initials(KStr t, char *out) {
    int words = 0, big = 0;
    Py_ssize_t i = 0;
    for (;;) {
        while (i < t.n && k_isspace((unsigned char)t.p[i])) i++;
        if (i == t.n) break;
        Py_ssize_t w = i;
        while (i < t.n && !k_isspace((unsigned char)t.p[i])) {
            char c = (char)(t.p[i] | 0x20);
            if (c < 'a' || c > 'z') return 0;
            i++;
        }
        words++;
        int small = 0;
        for (size_t k = 0; k < sizeof SMALL_WORDS / sizeof *SMALL_WORDS && !small; k++) {
            size_t len = strlen(SMALL_WORDS[k]), j = 0;
            while ((Py_ssize_t)len == i - w && j < len && (t.p[w + j] | 0x20) == SMALL_WORDS[k][j]) j++;
            small = (Py_ssize_t)len == i - w && j == len;
        }
        if (small) continue;
        if (t.p[w] < 'A' || t.p[w] > 'Z') return 0;
        out[big++] = t.p[w];
    }
    return words >= 2 && big >= 2 ? big : 0;
}

/* re.search(rf"\b{acronym}\b", answer) on UTF-8: 1 found, 0 not, K_FALLBACK where a non-ASCII
 * character beside a match decides the \b. */
static int acronym_in(KStr text, const char *acr, int len) {
    for (Py_ssize_t i = 0; i + len <= text.n; i++) {
        if (memcmp(text.p + i, acr, (size_t)len) != 0) continue;
        unsigned char before = i ? (unsigned char)text.p[i - 1] : ' ';
        unsigned char after = i + len < text.n ? (unsigned char)text.p[i + len] : ' ';
        if (before >= 0x80 || after >= 0x80) return K_FALLBACK;
        if (!ascii_word(before) && !ascii_word(after)) return 1;
    }
    return 0;
}

/* Whether the answer may spell the acronym out (correctness._expansion: "Name (ACR)", "ACR (Name)"):
 * an occurrence followed by "(", or between "(" and ")", ASCII spaces aside, or beside a character above
 * ASCII there. */
static int acronym_maybe_spelled_out(KStr text, const char *acr, int len) {
    for (Py_ssize_t i = 0; i + len <= text.n; i++) {
        if (memcmp(text.p + i, acr, (size_t)len) != 0) continue;
        Py_ssize_t b = i - 1, a = i + len;
        while (b >= 0 && k_isspace((unsigned char)text.p[b])) b--;
        while (a < text.n && k_isspace((unsigned char)text.p[a])) a++;
        unsigned char before = b >= 0 ? (unsigned char)text.p[b] : ' ', after = a < text.n ? (unsigned char)text.p[a] : ' ';
        if (after == '(' || (before == '(' && after == ')') || before >= 0x80 || after >= 0x80)
            return 1;  /* (Python's \s also spans Unicode spaces) */
    }
    return 0;
}

static const char *const NO_ANSWER_TRUTHS[] = {"none", "no answer", "no solution", "n a", "unanswerable",
                                               "not answerable"};

/* The end of correctness._QUOTED's match at t[i] ("**...**", "\"...\"", "\u201c...\u201d": 1 to 100
 * characters, no line break, no closing mark inside), -1 for none; *body is what is between. */
static Py_ssize_t quoted_at(KStr t, Py_ssize_t i, KStr *body) {
    const unsigned char *u = (const unsigned char *)t.p;
    int bold = i + 1 < t.n && u[i] == '*' && u[i + 1] == '*';
    int curly = i + 2 < t.n && u[i] == 0xE2 && u[i + 1] == 0x80 && u[i + 2] == 0x9C;
    if (!bold && !curly && u[i] != '"') return -1;
    Py_ssize_t from = i + (bold ? 2 : curly ? 3 : 1), j = from;
    int chars = 0;
    for (; j < t.n && u[j] != '\n' && chars <= 100; j++) {
        if (bold ? u[j] == '*' : curly ? (j + 2 < t.n && u[j] == 0xE2 && u[j + 1] == 0x80 && u[j + 2] == 0x9D)
                                       : u[j] == '"')
            break;
        chars += (u[j] & 0xC0) != 0x80;
    }
    if (chars < 1 || chars > 100 || j >= t.n) return -1;
    if (bold && !(j + 1 < t.n && u[j] == '*' && u[j + 1] == '*')) return -1;
    if (!bold && !curly && u[j] != '"') return -1;
    if (curly && !(j + 2 < t.n && u[j] == 0xE2 && u[j + 1] == 0x80 && u[j + 2] == 0x9D)) return -1;
    *body = (KStr){t.p + from, j - from};
    return j + (bold ? 2 : curly ? 3 : 1);
}

/* 1 when s at i is the whole word w (ASCII, any case), as far as ASCII decides: 0 otherwise. */
static int word_at(KStr s, Py_ssize_t i, const char *w) {
    size_t n = strlen(w);
    if (i + (Py_ssize_t)n > s.n) return 0;
    for (size_t k = 0; k < n; k++)
        if (k_lower((unsigned char)s.p[i + k]) != (unsigned char)w[k]) return 0;
    return 1;
}

/* 1 when correctness._named_answer or _more_than may turn a contained truth into a fail: the text
 * has 'answer/word/term/name/result is|was' before a quote or bold mark, or a quoted or bold phrase
 * holds " and " or " & ". Also 1 where characters above ASCII could decide it (whitespace, \b, case
 * folding): Python then judges. */
static int may_name_another(KStr t) {
    static const char *const KEYS[] = {"answer", "word", "term", "name", "result"};
    const unsigned char *u = (const unsigned char *)t.p;
    if (non_ascii(t) < 0) return 1;
    for (Py_ssize_t i = 0; i + 1 < t.n; i++) {
        if ((u[i] == 0xC4 && (u[i + 1] == 0xB0 || u[i + 1] == 0xB1)) || (u[i] == 0xC5 && u[i + 1] == 0xBF) ||
            (u[i] == 0xE2 && i + 2 < t.n && u[i + 1] == 0x84 && u[i + 2] == 0xAA))
            return 1;  /* the four characters that fold to ASCII letters */
    }
    for (Py_ssize_t i = 0; i < t.n; i++) {
        KStr body;
        Py_ssize_t end = quoted_at(t, i, &body);
        if (end >= 0) {
            for (Py_ssize_t k = 1; k + 1 < body.n; k++) {
                if (!k_isspace((unsigned char)body.p[k - 1])) continue;
                Py_ssize_t after = body.p[k] == '&' ? k + 1 : word_at(body, k, "and") ? k + 3 : -1;
                if (after > 0 && after < body.n && k_isspace((unsigned char)body.p[after])) return 1;
            }
            i = end - 1;
        }
    }
    for (Py_ssize_t i = 0; i < t.n; i++) {
        for (size_t k = 0; k < sizeof KEYS / sizeof *KEYS; k++) {
            if (!word_at(t, i, KEYS[k])) continue;
            if (i > 0 && (u[i - 1] >= 0x80 || ascii_word(u[i - 1]))) {
                if (u[i - 1] >= 0x80) return 1;
                continue;
            }
            Py_ssize_t j = i + (Py_ssize_t)strlen(KEYS[k]), ws = j;
            while (j < t.n && k_isspace(u[j])) j++;
            if (j == ws) continue;
            if (word_at(t, j, "is")) j += 2;
            else if (word_at(t, j, "was")) j += 3;
            else continue;
            while (j < t.n && k_isspace(u[j])) j++;
            if (j < t.n && u[j] == ':') j++;
            while (j < t.n && k_isspace(u[j])) j++;
            if (j < t.n && (u[j] == '"' || (u[j] == '*' && j + 1 < t.n && u[j + 1] == '*') ||
                            (u[j] == 0xE2 && j + 2 < t.n && u[j + 1] == 0x80 && u[j + 2] == 0x9C)))
                return 1;
        }
    }
    return 0;
}

/* correctness._text_outcome: the whole truth, its parts, its initials; a truth of no answer that
 * the answer does not contain is left to Python. */
static int correct_text(KEpisode *ep, KAnswer *a, KScratch *s, KOutcome *o) {
    KStr want = ep->ground_truth, head = head_chars(want, 80);
    KBuf *w = &s->text, *g = &s->buf;
    Py_ssize_t gn = spaced_normal(g, a->real), wn;
    if (gn == -2) return K_NOMEM;
    if (gn < 0) return K_FALLBACK;
    if ((wn = spaced_normal(w, want)) == -2) return K_NOMEM;
    if (wn < 0) return K_FALLBACK;
    if (spaced_in(w->p, wn, g->p, gn))  /* a quoted or bold phrase may name another answer: Python */
        return may_name_another(a->real) ? K_FALLBACK : say(o, V_PASS, R_CORRECT_CONTAINS, "s", head);
    for (size_t k = 0; k < sizeof NO_ANSWER_TRUTHS / sizeof *NO_ANSWER_TRUTHS; k++)
        if ((size_t)wn == strlen(NO_ANSWER_TRUTHS[k]) + 2 && memcmp(w->p + 1, NO_ANSWER_TRUTHS[k], (size_t)wn - 2) == 0)
            return K_FALLBACK;
    int rc = all_parts_in(w, want, g->p, gn);
    if (rc == -2) return K_NOMEM;
    if (rc == K_FALLBACK) return K_FALLBACK;
    if (rc == 1) return say(o, V_PASS, R_CORRECT_PARTS, "s", head);
    int above = non_ascii(want);  /* a word with a character above ASCII has no initials */
    if (above < 0) return K_FALLBACK;
    w->n = 0;
    if (buf_reserve(w, (size_t)want.n + 1) != K_OK) return K_NOMEM;
    int len = above ? 0 : initials(want, w->p);
    if (len > 0) {
        int found = acronym_in(a->real, w->p, len);
        if (found == K_FALLBACK || (found && acronym_maybe_spelled_out(a->real, w->p, len))) return K_FALLBACK;
        if (found) return say(o, V_PASS, R_CORRECT_ACRONYM, "ss", (KStr){w->p, len}, head);
    }
    return say(o, V_FAIL, R_CORRECT_NOT_CONTAINS, "s", head);
}

/* correctness._whole: no number of the truth is a quantity, or a comma, semicolon or line break
 * stands between two of them. */
static int truth_whole(KStr t, const KNumbers *v) {
    if (!numbers_any_quantity(t.p, t.n, v)) return 1;
    for (int i = 0; i + 1 < v->n; i++)
        for (const char *c = v->items[i].text.p + v->items[i].text.n; c < v->items[i + 1].text.p; c++)
            if (*c == ',' || *c == ';' || *c == '\n') return 1;
    return 0;
}

static int given_matches(const KNumbers *given, const KNumber *target) {
    for (int i = 0; i < given->n; i++)
        if (answer_matches(&given->items[i], target)) return i;
    return -1;
}

static int say_no_match(KOutcome *o, const KNumbers *given, KStr expected) {
    if (given->n == 0) return say(o, V_FAIL, R_CORRECT_NO_NUMBER, "s", expected);
    if (reason(o, V_FAIL, R_CORRECT_NO_MATCH) != K_OK || arg_open(o, RA_LIST) != K_OK) return K_NOMEM;
    for (int i = 0; i < given->n && i < 5; i++)
        if (arg_str(o, given->items[i].text.p, given->items[i].text.n) != K_OK) return K_NOMEM;
    if (arg_close(o) != K_OK || arg_str(o, expected.p, expected.n) != K_OK) return K_NOMEM;
    return K_OK;
}

static int check_answer_correct(const KItem *it, KEpisode *ep, KScratch *s, KOutcome *o) {
    KStr truth = ep->truth_text;  /* the stand-in: blank and numbers exactly when the truth is */
    if (truth.p == NULL || kstrip(truth).n == 0) return na(o, R_CORRECT_NO_TRUTH);
    if (ep->metadata != NULL && PyDict_GetItemString(ep->metadata, "score_name") != NULL)
        return K_FALLBACK;  /* a model-graded eval's reference (correctness.answer_correct): Python's */
    KAnswer a;
    int rc = find_answer(it, ep, s, &a);
    if (rc != K_OK) return rc;
    if (!a.has) return reason(o, V_FAIL, R_GROUNDED_NO_ANSWER);
    if (ev_add(o, a.step) != K_OK) return K_NOMEM;
    s->expected.n = 0;
    if ((rc = numbers_find(truth.p, truth.n, &s->expected)) != K_OK) return rc;
    if (s->expected.n == 0 || numbers_any_identifier(truth.p, truth.n, &s->expected))
        return correct_text(ep, &a, s, o);
    KStr marked = marked_answer(a.text.p, a.text.n);
    if (has_number_word(marked.p, marked.n)) return K_FALLBACK;  /* numbers in words: Python reads them */
    s->given.n = 0;
    if ((rc = numbers_find(marked.p, marked.n, &s->given)) != K_OK) return rc;
    const KNumber *target = &s->expected.items[0];
    if (s->expected.n == 1 || !truth_whole(truth, &s->expected)) {
        int i = given_matches(&s->given, target);
        if (i >= 0) return say(o, V_PASS, R_CORRECT_MATCHES, "ss", s->given.items[i].text, target->text);
        return say_no_match(o, &s->given, target->text);
    }
    KStr head = head_chars(ep->ground_truth, 80);
    for (int k = 0; k < s->expected.n; k++)
        if (given_matches(&s->given, &s->expected.items[k]) < 0) return say_no_match(o, &s->given, head);
    return say(o, V_PASS, R_CORRECT_ALL_MATCH, "s", head);
}

/* ------------------------------------------------------------------ dispatch */

typedef int (*KCheckFn)(const KItem *, KEpisode *, KScratch *, KOutcome *);
#define K_CHECK_FN(name) check_##name,
static const KCheckFn CHECK_FNS[CHECK_COUNT] = {K_CHECKS(K_CHECK_FN)};

int run_item(const KItem *item, KEpisode *ep, KScratch *s, KOutcome *out) {
    out->n_evidence = 0;
    out->reason.n = 0;
    out->verdict = V_ERROR;
    if (ep->n_steps == 0) return na(out, R_NO_STEPS);
    if (item->check < 0 || item->check >= CHECK_COUNT) return K_FALLBACK;
    int rc = CHECK_FNS[item->check](item, ep, s, out);
    if (rc != K_OK) {
        out->reason.n = 0;
        return rc;
    }
    if (out->verdict == V_NA) out->n_evidence = 0;
    ev_finish(out, ep->n_steps);
    return K_OK;
}


/* WORDS: the word tables above as a dict of tuples (`_kernel.WORDS`), so that a test holds each one to
 * its Python twin (tool_discipline.EFFECT_WORDS, correctness._SMALL_WORDS and _NO_ANSWER_TRUTHS). */
static PyObject *words_tuple(const char *const *words, size_t n) {
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t != NULL && i < n; i++) {
        PyObject *w = PyUnicode_FromString(words[i]);
        if (w == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, w);
    }
    return t;
}

#define K_WORDS(table) words_tuple(table, sizeof table / sizeof *table)

int kchecks_add_words(PyObject *m) {
    PyObject *d = PyDict_New();
    if (d == NULL) return -1;
    struct { const char *key; PyObject *value; } tables[] = {
        {"effect_words", K_WORDS(EFFECT_WORDS)},
        {"small_words", K_WORDS(SMALL_WORDS)},
        {"no_answer_truths", K_WORDS(NO_ANSWER_TRUTHS)},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        if (rc == 0 && (tables[i].value == NULL || PyDict_SetItemString(d, tables[i].key, tables[i].value) < 0))
            rc = -1;
        Py_XDECREF(tables[i].value);
    }
    if (rc == 0 && PyModule_AddObject(m, "WORDS", d) == 0) return 0;
    Py_DECREF(d);
    return -1;
}
