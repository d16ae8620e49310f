/* score.c: the Plan type (a rubric's built-in items, resolved once) and score_chunk (the complete
 * lines of a block, OpenAI-chat or verifiers-results records): each scored line's episode row and
 * verdict rows are appended to the run's column buffers exactly as
 * rubricate.scoring._store.PartWriter.add_episode would; rubric_reward comes from the plan's
 * reward_fn (rubricate.rubrics.collapse), memoised per verdict signature, and each reason's text is
 * its code's template (from the Python table of reason templates, handed over as pieces) filled
 * with the check's arguments. plan.verdicts(line) scores one line for a rubric whose other items
 * run in Python. */
#include "checks.h"

#include <stdio.h>
#include <string.h>

#define N_EPISODE_COLS 16  /* EPISODE_SCHEMA, rubric_reward last */
#define N_VERDICT_COLS 7
#define REWARD_MEMO 256

/* A reason template as pieces: literal text, then the argument shown after it (-1: none), as repr? */
typedef struct {
    KStr lit;
    int arg;
    int repr;
} KPiece;

typedef struct {
    KPiece *pieces, *each;  /* the template; how one element of a list argument is written */
    int n_pieces, n_each;
    KStr sep;               /* between the elements of a list argument */
} KTemplate;

#define K_CHECK_NAME(name) #name,
static const char *CHECK_NAMES[CHECK_COUNT] = {K_CHECKS(K_CHECK_NAME)};

typedef struct {
    PyObject_HEAD
    KItem items[K_MAX_ITEMS];
    PyObject *item_ids[K_MAX_ITEMS];
    PyObject *behaviors[K_MAX_ITEMS];
    int n_items;
    PyObject *keep;          /* a list holding every str the items point into */
    PyObject *encode;        /* msgspec.json.encode, for the metadata column */
    PyObject *ecols[N_EPISODE_COLS];
    PyObject *vcols[N_VERDICT_COLS];
    PyObject *source_path, *source_file, *format;
    int fmt;                 /* FMT_* of `format` */
    PyObject *shared;        /* the file's shared metadata (a dict), or NULL */
    PyObject *verdict_names[4];
    PyObject *scores[2];
    long long counts[4];
    PyObject *reward_fn;     /* signature -> rubric reward (float or None), memoised below */
    long long reward_sigs[REWARD_MEMO];
    PyObject *rewards[REWARD_MEMO];
    int n_rewards;
    KTemplate templates[REASON_COUNT];
    PyObject *fixed[REASON_COUNT];  /* the text of each reason without arguments, once filled */
    KBuf text;               /* a reason being filled */
    KEpisode ep;
    KScratch scratch;
    KOutcome outcomes[K_MAX_ITEMS];
} Plan;

static void param_free(KItem *it);

static void plan_clear_refs(Plan *p) {
    for (int i = 0; i < p->n_items; i++) {
        Py_CLEAR(p->item_ids[i]);
        Py_CLEAR(p->behaviors[i]);
        param_free(&p->items[i]);
        memset(&p->items[i], 0, sizeof(KItem));
    }
    p->n_items = 0;
    for (int i = 0; i < N_EPISODE_COLS; i++) Py_CLEAR(p->ecols[i]);
    for (int i = 0; i < N_VERDICT_COLS; i++) Py_CLEAR(p->vcols[i]);
    Py_CLEAR(p->keep);
    Py_CLEAR(p->encode);
    Py_CLEAR(p->source_path);
    Py_CLEAR(p->source_file);
    Py_CLEAR(p->format);
    Py_CLEAR(p->shared);
    for (int i = 0; i < 4; i++) Py_CLEAR(p->verdict_names[i]);
    for (int i = 0; i < 2; i++) Py_CLEAR(p->scores[i]);
    Py_CLEAR(p->reward_fn);
    for (int i = 0; i < p->n_rewards; i++) Py_CLEAR(p->rewards[i]);
    p->n_rewards = 0;
    for (int i = 0; i < REASON_COUNT; i++) {
        Py_CLEAR(p->fixed[i]);
        PyMem_Free(p->templates[i].pieces);
        PyMem_Free(p->templates[i].each);
        memset(&p->templates[i], 0, sizeof(KTemplate));
    }
}

static void plan_dealloc(Plan *p) {
    plan_clear_refs(p);
    episode_free(&p->ep);
    scratch_free(&p->scratch);
    for (int i = 0; i < K_MAX_ITEMS; i++) {
        PyMem_Free(p->outcomes[i].evidence);
        PyMem_Free(p->outcomes[i].reason.p);
    }
    PyMem_Free(p->text.p);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

/* A str kept alive by the plan, as a KStr (UTF-8). */
static int kept_str(Plan *p, PyObject *s, KStr *out) {
    if (!PyUnicode_Check(s)) {
        PyErr_SetString(PyExc_TypeError, "Plan: expected str");
        return -1;
    }
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u == NULL || PyList_Append(p->keep, s) < 0) return -1;
    out->p = u;
    out->n = n;
    return 0;
}

static int kept_strs(Plan *p, PyObject *params, const char *key, KStr **out, int *n) {
    PyObject *seq = PyDict_GetItemString(params, key);  /* borrowed */
    *out = NULL;
    *n = 0;
    if (seq == NULL) return 0;
    PyObject *fast = PySequence_Fast(seq, "Plan: parameter lists must be sequences");
    if (fast == NULL) return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    *out = PyMem_Calloc((size_t)len + 1, sizeof(KStr));
    if (*out == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++)
        if (kept_str(p, PySequence_Fast_GET_ITEM(fast, i), &(*out)[i]) < 0) {
            Py_DECREF(fast);
            return -1;
        }
    *n = (int)len;
    Py_DECREF(fast);
    return 0;
}

/* Each kind of parameter (K_PARAMS) read from the item's parameters, as the Python side hands them
 * over: a sequence of str (TOOLS, KEYS) or a str (TEXT); absent: empty. */
static int read_TOOLS(Plan *p, PyObject *params, const char *key, KNameSet *out) {
    return kept_strs(p, params, key, &out->names, &out->n);
}

static int read_KEYS(Plan *p, PyObject *params, const char *key, KKeys *out) {
    if (kept_strs(p, params, key, &out->keys, &out->n) < 0) return -1;
    for (int i = 0; i < out->n; i++)
        if (memchr(out->keys[i].p, '\0', (size_t)out->keys[i].n) != NULL) {
            PyErr_Format(PyExc_ValueError, "Plan: parameter %s holds a NUL character", key);
            return -1;
        }
    return 0;
}

static int read_TEXT(Plan *p, PyObject *params, const char *key, KStr *out) {
    PyObject *value = PyDict_GetItemString(params, key);  /* borrowed */
    out->p = "";
    out->n = 0;
    return value == NULL ? 0 : kept_str(p, value, out);
}

static void free_TOOLS(KNameSet *x) { PyMem_Free(x->names); }
static void free_KEYS(KKeys *x) { PyMem_Free(x->keys); }
static void free_TEXT(KStr *x) { (void)x; }

#define K_PARAM_READ(name, kind) if (read_##kind(p, params, #name, &it->name) < 0) return -1;
static int param_read(Plan *p, PyObject *params, KItem *it) {
    K_PARAMS(K_PARAM_READ)
    return 0;
}

#define K_PARAM_FREE(name, kind) free_##kind(&it->name);
static void param_free(KItem *it) { K_PARAMS(K_PARAM_FREE) }

/* Pieces ((literal, argument index or -1, repr?), ...) as KPieces; arguments below `n_args`. */
static int read_pieces(Plan *p, PyObject *seq, int n_args, KPiece **out, int *n) {
    PyObject *fast = PySequence_Fast(seq, "Plan: reason pieces must be a sequence");
    if (fast == NULL) return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    *out = PyMem_Calloc((size_t)len + 1, sizeof(KPiece));
    *n = (int)len;
    int rc = *out != NULL ? 0 : (PyErr_NoMemory(), -1);
    for (Py_ssize_t i = 0; rc == 0 && i < len; i++) {
        PyObject *lit;
        int arg, repr;
        KPiece *piece = &(*out)[i];
        rc = PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "Uip:reason piece", &lit, &arg, &repr) ? 0 : -1;
        if (rc == 0) rc = kept_str(p, lit, &piece->lit);
        if (rc == 0 && (arg < -1 || arg >= n_args)) {
            PyErr_Format(PyExc_ValueError, "Plan: a reason piece shows argument %d of %d", arg, n_args);
            rc = -1;
        }
        piece->arg = arg;
        piece->repr = repr;
    }
    Py_DECREF(fast);
    return rc;
}

/* templates: one (pieces, each, separator) per reason of K_REASONS, in order (see KTemplate). */
static int read_templates(Plan *p, PyObject *templates) {
#define K_REASON_ARGS(id, code, fields) fields,
    static const char *fields[REASON_COUNT] = {K_REASONS(K_REASON_ARGS)};
    PyObject *fast = PySequence_Fast(templates, "Plan: reason templates must be a sequence");
    if (fast == NULL) return -1;
    int rc = 0;
    if (PySequence_Fast_GET_SIZE(fast) != REASON_COUNT) {
        PyErr_Format(PyExc_ValueError, "Plan: expected %d reason templates", REASON_COUNT);
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < REASON_COUNT; i++) {
        int n_args = 0;  /* the number of names in fields[i] */
        for (const char *f = fields[i]; *f; f++) n_args += *f != ' ' && (f == fields[i] || f[-1] == ' ');
        PyObject *pieces, *each, *sep;
        KTemplate *t = &p->templates[i];
        rc = PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "OOU:reason template", &pieces, &each, &sep) ? 0 : -1;
        if (rc == 0) rc = read_pieces(p, pieces, n_args, &t->pieces, &t->n_pieces);
        if (rc == 0) rc = read_pieces(p, each, INT_MAX, &t->each, &t->n_each);
        if (rc == 0) rc = kept_str(p, sep, &t->sep);
    }
    Py_DECREF(fast);
    return rc;
}

/* Plan(items, encode, reward_fn, templates): items = [(check name, item id, behavior, params)],
 * params a dict of the parameters K_PARAMS names (as scoring/_native.py hands them over); encode is
 * msgspec.json.encode (the metadata column), reward_fn(signature) the rubric reward of a verdict
 * signature, templates the reasons' templates as pieces (read_templates). */
static int plan_init(Plan *p, PyObject *args, PyObject *kw) {
    PyObject *items, *encode, *reward_fn, *templates;
    if (!PyArg_ParseTuple(args, "OOOO:Plan", &items, &encode, &reward_fn, &templates)) return -1;
    plan_clear_refs(p);
    p->reward_fn = Py_NewRef(reward_fn);
    p->keep = PyList_New(0);
    if (p->keep == NULL || read_templates(p, templates) < 0) return -1;
    p->encode = Py_NewRef(encode);
    static const char *verdicts[4] = {"pass", "fail", "na", "error"};
    for (int i = 0; i < 4; i++)
        if ((p->verdict_names[i] = PyUnicode_InternFromString(verdicts[i])) == NULL) return -1;
    if ((p->scores[0] = PyFloat_FromDouble(1.0)) == NULL || (p->scores[1] = PyFloat_FromDouble(0.0)) == NULL) return -1;
    PyObject *fast = PySequence_Fast(items, "Plan: items must be a sequence");
    if (fast == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > K_MAX_ITEMS) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "Plan: at most %d items", K_MAX_ITEMS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *check, *item_id, *behavior, *params;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "UUUO!:Plan item", &check, &item_id, &behavior,
                              &PyDict_Type, &params)) {
            Py_DECREF(fast);
            return -1;
        }
        KItem *it = &p->items[i];
        memset(it, 0, sizeof *it);
        p->n_items = (int)i + 1;
        it->check = -1;
        for (int c = 0; c < CHECK_COUNT; c++)
            if (PyUnicode_CompareWithASCIIString(check, CHECK_NAMES[c]) == 0) it->check = c;
        if (it->check < 0) {
            Py_DECREF(fast);
            PyErr_Format(PyExc_ValueError, "Plan: the kernel has no check %R", check);
            return -1;
        }
        p->item_ids[i] = Py_NewRef(item_id);
        p->behaviors[i] = Py_NewRef(behavior);
        if (param_read(p, params, it) < 0) {
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

/* plan.bind(episode_columns, verdict_columns): the lists score_chunk appends to. */
static PyObject *plan_bind(Plan *p, PyObject *args) {
    PyObject *ecols, *vcols;
    if (!PyArg_ParseTuple(args, "O!O!:bind", &PyTuple_Type, &ecols, &PyTuple_Type, &vcols)) return NULL;
    if (PyTuple_GET_SIZE(ecols) != N_EPISODE_COLS || PyTuple_GET_SIZE(vcols) != N_VERDICT_COLS) {
        PyErr_Format(PyExc_ValueError, "bind: expected %d episode and %d verdict columns", N_EPISODE_COLS,
                     N_VERDICT_COLS);
        return NULL;
    }
    for (int i = 0; i < N_EPISODE_COLS; i++) {
        PyObject *c = PyTuple_GET_ITEM(ecols, i);
        if (!PyList_Check(c)) return PyErr_Format(PyExc_TypeError, "bind: columns must be lists");
        Py_INCREF(c);
        Py_XSETREF(p->ecols[i], c);
    }
    for (int i = 0; i < N_VERDICT_COLS; i++) {
        PyObject *c = PyTuple_GET_ITEM(vcols, i);
        if (!PyList_Check(c)) return PyErr_Format(PyExc_TypeError, "bind: columns must be lists");
        Py_INCREF(c);
        Py_XSETREF(p->vcols[i], c);
    }
    Py_RETURN_NONE;
}

/* plan.set_source(path, file, format, file_metadata=None): the source columns of the lines that
 * follow, the format they are read as ("openai-chat" or "verifiers-results") and the metadata
 * every episode of the file shares (RecordFormat.file_metadata: merged into each episode's own as
 * RecordFormat.read does; the plan keeps a reference and never changes the dict). */
static PyObject *plan_set_source(Plan *p, PyObject *args) {
    PyObject *path, *file, *format, *shared = Py_None;
    if (!PyArg_ParseTuple(args, "UUU|O:set_source", &path, &file, &format, &shared)) return NULL;
    int fmt;
    if (PyUnicode_CompareWithASCIIString(format, "openai-chat") == 0) fmt = FMT_OPENAI_CHAT;
    else if (PyUnicode_CompareWithASCIIString(format, "verifiers-results") == 0) fmt = FMT_VERIFIERS;
    else return PyErr_Format(PyExc_ValueError, "set_source: the kernel does not read format %R", format);
    if (shared != Py_None && !PyDict_CheckExact(shared))
        return PyErr_Format(PyExc_TypeError, "set_source: file_metadata must be a dict or None");
    p->fmt = fmt;
    Py_XSETREF(p->shared, shared == Py_None ? NULL : Py_NewRef(shared));
    Py_INCREF(path);
    Py_XSETREF(p->source_path, path);
    Py_INCREF(file);
    Py_XSETREF(p->source_file, file);
    Py_INCREF(format);
    Py_XSETREF(p->format, format);
    Py_RETURN_NONE;
}

static PyObject *plan_verdicts(Plan *p, PyObject *arg);  /* below, with the scoring */
#ifdef RUBRICATE_KERNEL_DEBUG
static PyObject *plan_debug_reason(Plan *p, PyObject *args);
#endif

static PyObject *plan_counts(Plan *p, PyObject *unused) {
    return Py_BuildValue("{sLsLsLsL}", "pass", p->counts[0], "fail", p->counts[1], "na", p->counts[2], "error",
                         p->counts[3]);
}

static PyMethodDef plan_methods[] = {
    {"bind", (PyCFunction)plan_bind, METH_VARARGS, "bind(episode_columns, verdict_columns)"},
    {"set_source", (PyCFunction)plan_set_source, METH_VARARGS, "set_source(path, file, format, file_metadata=None)"},
    {"counts", (PyCFunction)plan_counts, METH_NOARGS, "verdict counts of every episode scored so far"},
    {"verdicts", (PyCFunction)plan_verdicts, METH_O,
     "verdicts(line) -> ((verdict, reason, evidence), ...) of the items, or None (declined)"},
#ifdef RUBRICATE_KERNEL_DEBUG
    {"_debug_reason", (PyCFunction)plan_debug_reason, METH_VARARGS, "(code, args) -> the reason's text"},
#endif
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rubricate._kernel.Plan",
    .tp_doc = "A rubric's built-in items resolved for the kernel: Plan(items, encode, reward_fn, render).",
    .tp_basicsize = sizeof(Plan),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)plan_init,
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_methods = plan_methods,
};

PyObject *kscore_plan_type(void) {
    if (PyType_Ready(&PlanType) < 0) return NULL;
    Py_INCREF(&PlanType);
    return (PyObject *)&PlanType;
}

/* The one declaration (checks.h) for the Python side: CHECKS (names), PARAMS ((name, kind)),
 * REASONS ((code, (argument names...))), MAX_ITEMS. 0, or -1 with an error set. */
int kscore_add_declaration(PyObject *m) {
#define K_CHECK_STR(name) #name,
#define K_PARAM_PAIR(name, kind) #name, #kind,
#define K_REASON_PAIR(id, code, fields) code, fields,
    static const char *checks[] = {K_CHECKS(K_CHECK_STR)};
    static const char *params[] = {K_PARAMS(K_PARAM_PAIR)};
    static const char *reasons[] = {K_REASONS(K_REASON_PAIR)};
    PyObject *c = PyTuple_New(CHECK_COUNT), *pr = PyTuple_New(sizeof params / sizeof *params / 2),
             *r = PyTuple_New(REASON_COUNT);
    int ok = c != NULL && pr != NULL && r != NULL;
    for (Py_ssize_t i = 0; ok && i < CHECK_COUNT; i++) {
        PyObject *name = PyUnicode_FromString(checks[i]);
        ok = name != NULL;
        if (ok) PyTuple_SET_ITEM(c, i, name);
    }
    for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE(pr); i++) {
        PyObject *pair = Py_BuildValue("(ss)", params[2 * i], params[2 * i + 1]);
        ok = pair != NULL;
        if (ok) PyTuple_SET_ITEM(pr, i, pair);
    }
    for (Py_ssize_t i = 0; ok && i < REASON_COUNT; i++) {
        PyObject *fields = PyUnicode_FromString(reasons[2 * i + 1]);
        PyObject *names = fields != NULL ? PyUnicode_Split(fields, NULL, -1) : NULL;
        PyObject *tuple = names != NULL ? PyList_AsTuple(names) : NULL;
        PyObject *pair = tuple != NULL ? Py_BuildValue("(sO)", reasons[2 * i], tuple) : NULL;
        Py_XDECREF(fields);
        Py_XDECREF(names);
        Py_XDECREF(tuple);
        ok = pair != NULL;
        if (ok) PyTuple_SET_ITEM(r, i, pair);
    }
    if (ok && PyModule_AddObjectRef(m, "CHECKS", c) == 0 && PyModule_AddObjectRef(m, "PARAMS", pr) == 0 &&
        PyModule_AddObjectRef(m, "REASONS", r) == 0 && PyModule_AddIntConstant(m, "MAX_ITEMS", K_MAX_ITEMS) == 0) {
        Py_DECREF(c);
        Py_DECREF(pr);
        Py_DECREF(r);
        return 0;
    }
    Py_XDECREF(c);
    Py_XDECREF(pr);
    Py_XDECREF(r);
    return -1;
}

/* ------------------------------------------------------------------ scoring */

static PyObject *str_or_none(KStr s) {
    if (s.p == NULL) Py_RETURN_NONE;
    return PyUnicode_FromStringAndSize(s.p, s.n);
}

/* Append `value` (a new reference, stolen) to `list`. */
static int append(PyObject *list, PyObject *value) {
    if (value == NULL) return -1;
    int rc = PyList_Append(list, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *metadata_text(Plan *p) {
    PyObject *meta = p->ep.metadata;
    if (meta == NULL || PyDict_GET_SIZE(meta) == 0) Py_RETURN_NONE;
    PyObject *encoded = PyObject_CallOneArg(p->encode, meta);
    if (encoded == NULL) return NULL;
    if (!PyBytes_Check(encoded)) {
        Py_DECREF(encoded);
        return PyErr_Format(PyExc_TypeError, "encode must return bytes");
    }
    PyObject *text = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded), "strict");
    Py_DECREF(encoded);
    return text;
}

/* The rubric reward of a verdict signature (new reference): memoised calls of reward_fn. */
static PyObject *reward_of(Plan *p, long long signature) {
    for (int i = 0; i < p->n_rewards; i++)
        if (p->reward_sigs[i] == signature) {
            Py_INCREF(p->rewards[i]);
            return p->rewards[i];
        }
    PyObject *sig = PyLong_FromLongLong(signature);
    if (sig == NULL) return NULL;
    PyObject *reward = PyObject_CallOneArg(p->reward_fn, sig);
    Py_DECREF(sig);
    if (reward != NULL && p->n_rewards < REWARD_MEMO) {
        Py_INCREF(reward);
        p->reward_sigs[p->n_rewards] = signature;
        p->rewards[p->n_rewards++] = reward;
    }
    return reward;
}

/* ------------------------------------------------------------------ reasons */

/* The position after the encoded value at `pos`. */
static size_t skip_value(const char *r, size_t pos) {
    char tag = r[pos++];
    if (tag == RA_INT) return pos + sizeof(long long);
    if (tag == RA_STR) {
        Py_ssize_t len;
        memcpy(&len, r + pos, sizeof len);
        return pos + sizeof len + (size_t)len;
    }
    while (r[pos] != RA_END) pos = skip_value(r, pos);  /* RA_LIST, RA_TUPLE */
    return pos + 1;
}

/* Up to `max` values from `pos` to RA_END (or `end`): their positions; how many there are. */
static int value_positions(const char *r, size_t pos, size_t end, size_t *out, int max) {
    int n = 0;
    for (; pos < end && r[pos] != RA_END; pos = skip_value(r, pos), n++)
        if (n < max) out[n] = pos;
    return n;
}

/* repr() of UTF-8 text. */
static int put_repr(KBuf *out, const char *p, Py_ssize_t len) {
    PyObject *str = PyUnicode_DecodeUTF8(p, len, "strict");
    PyObject *shown = str != NULL ? PyObject_Repr(str) : NULL;
    Py_ssize_t n;
    const char *u = shown != NULL ? PyUnicode_AsUTF8AndSize(shown, &n) : NULL;
    int rc = u != NULL ? buf_put(out, u, (size_t)n) : K_NOMEM;
    Py_XDECREF(str);
    Py_XDECREF(shown);
    return rc;
}

/* A scalar value as str() or repr() shows it. */
static int put_scalar(KBuf *out, const char *r, size_t pos, int repr) {
    char tag = r[pos++];
    if (tag == RA_INT) {
        long long v;
        memcpy(&v, r + pos, sizeof v);
        char tmp[32];
        int n = snprintf(tmp, sizeof tmp, "%lld", v);
        return buf_put(out, tmp, (size_t)n);
    }
    if (tag != RA_STR) {
        PyErr_SetString(PyExc_ValueError, "a reason shows a list where its template expects a value");
        return K_NOMEM;
    }
    Py_ssize_t len;
    memcpy(&len, r + pos, sizeof len);
    pos += sizeof len;
    return repr ? put_repr(out, r + pos, len) : buf_put(out, r + pos, (size_t)len);
}

#define MAX_ARGS 16

/* Fill `pieces` with the values at positions `args` (n_args of them); a list value is written
 * element by element with the template's `each` pieces, joined by its separator. */
static int fill(KBuf *out, const KTemplate *t, const KPiece *pieces, int n_pieces, const char *r, const size_t *args,
                int n_args) {
    for (int i = 0; i < n_pieces; i++) {
        const KPiece *piece = &pieces[i];
        if (buf_put(out, piece->lit.p, (size_t)piece->lit.n) != K_OK) return K_NOMEM;
        if (piece->arg < 0) continue;
        if (piece->arg >= n_args) {
            PyErr_SetString(PyExc_ValueError, "a reason's template shows an argument its check did not give");
            return K_NOMEM;
        }
        size_t pos = args[piece->arg];
        if (r[pos] != RA_LIST) {
            if (put_scalar(out, r, pos, piece->repr) != K_OK) return K_NOMEM;
            continue;
        }
        if (pieces == t->each) {
            PyErr_SetString(PyExc_ValueError, "a list inside a list element of a reason");
            return K_NOMEM;
        }
        KBuf joined = {NULL, 0, 0};  /* {name!r} of a list: the repr of the joined text */
        KBuf *to = piece->repr ? &joined : out;
        size_t items[MAX_ARGS];
        size_t end = skip_value(r, pos);
        int rc = K_OK;
        for (size_t e = pos + 1; rc == K_OK && r[e] != RA_END; e = skip_value(r, e)) {
            if (e != pos + 1 && buf_put(to, t->sep.p, (size_t)t->sep.n) != K_OK) rc = K_NOMEM;
            int n_items = 1;
            items[0] = e;
            if (r[e] == RA_TUPLE) n_items = value_positions(r, e + 1, end, items, MAX_ARGS);
            if (rc == K_OK && (n_items > MAX_ARGS || fill(to, t, t->each, t->n_each, r, items, n_items) != K_OK))
                rc = K_NOMEM;
        }
        if (rc == K_OK && piece->repr) rc = put_repr(out, joined.p ? joined.p : "", (Py_ssize_t)joined.n);
        PyMem_Free(joined.p);
        if (rc != K_OK) return rc;
    }
    return K_OK;
}

/* The text of an outcome's reason (new reference): its code's template filled with its arguments. */
static PyObject *reason_text(Plan *p, const KBuf *r) {
    int code = reason_code(r);
    if (code < 0 || code >= REASON_COUNT) return PyErr_Format(PyExc_ValueError, "no reason %d", code);
    if (r->n == 2 && p->fixed[code] != NULL) return Py_NewRef(p->fixed[code]);
    size_t args[MAX_ARGS];
    int n_args = value_positions(r->p, 2, r->n, args, MAX_ARGS);
    const KTemplate *t = &p->templates[code];
    p->text.n = 0;
    if (n_args > MAX_ARGS || fill(&p->text, t, t->pieces, t->n_pieces, r->p, args, n_args) != K_OK) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return NULL;
    }
    PyObject *text = PyUnicode_DecodeUTF8(p->text.p ? p->text.p : "", (Py_ssize_t)p->text.n, "strict");
    if (text != NULL && r->n == 2) p->fixed[code] = Py_NewRef(text);
    return text;
}

static PyObject *evidence_tuple(const KOutcome *o) {
    PyObject *evidence = PyTuple_New(o->n_evidence);
    if (evidence == NULL) return NULL;
    for (int k = 0; k < o->n_evidence; k++) {
        PyObject *x = PyLong_FromLong(o->evidence[k]);
        if (x == NULL) {
            Py_DECREF(evidence);
            return NULL;
        }
        PyTuple_SET_ITEM(evidence, k, x);
    }
    return evidence;
}

/* ------------------------------------------------------------------ rows */

static int append_rows(Plan *p, Py_ssize_t line_no, long long signature) {
    KEpisode *ep = &p->ep;
    PyObject **e = p->ecols;
    PyObject *id = ep->id.p != NULL ? PyUnicode_FromStringAndSize(ep->id.p, ep->id.n)
                                    : PyUnicode_FromFormat("%U:%zd", p->source_path, line_no);
    if (id == NULL) return -1;
    int errors = 0;
    for (int i = 0; i < ep->n_steps; i++) errors += ep->steps[i].n_calls == 0 && ep->steps[i].is_error;
    Py_INCREF(id);
    Py_INCREF(p->source_path);
    Py_INCREF(p->source_file);
    Py_INCREF(p->format);
    Py_INCREF(Py_None);
    if (append(e[0], id) < 0 || append(e[1], str_or_none(ep->task_id)) < 0 || append(e[2], p->source_path) < 0 ||
        append(e[3], PyLong_FromSsize_t(line_no)) < 0 || append(e[4], Py_None) < 0 ||
        append(e[5], p->source_file) < 0 || append(e[6], p->format) < 0 ||
        append(e[7], PyLong_FromLong(ep->n_steps)) < 0 || append(e[8], PyLong_FromLong(ep->n_calls)) < 0 ||
        append(e[9], PyLong_FromLong(errors)) < 0 || append(e[10], str_or_none(ep->question)) < 0 ||
        append(e[11], str_or_none(ep->final_answer)) < 0 || append(e[12], str_or_none(ep->ground_truth)) < 0 ||
        append(e[13], ep->has_reward ? PyFloat_FromDouble(ep->reward) : (Py_INCREF(Py_None), Py_None)) < 0 ||
        append(e[14], metadata_text(p)) < 0 || append(e[15], reward_of(p, signature)) < 0) {
        Py_DECREF(id);
        return -1;
    }
    PyObject **v = p->vcols;
    for (int i = 0; i < p->n_items; i++) {
        KOutcome *o = &p->outcomes[i];
        PyObject *evidence = evidence_tuple(o);
        PyObject *reason = evidence != NULL ? reason_text(p, &o->reason) : NULL;
        if (reason == NULL) {
            Py_XDECREF(evidence);
            Py_DECREF(id);
            return -1;
        }
        PyObject *score = o->verdict <= V_FAIL ? p->scores[o->verdict] : Py_None;
        Py_INCREF(id);
        Py_INCREF(p->item_ids[i]);
        Py_INCREF(p->behaviors[i]);
        Py_INCREF(p->verdict_names[o->verdict]);
        Py_INCREF(score);
        if (append(v[0], id) < 0 || append(v[1], p->item_ids[i]) < 0 || append(v[2], p->behaviors[i]) < 0 ||
            append(v[3], p->verdict_names[o->verdict]) < 0 || append(v[4], score) < 0 || append(v[5], reason) < 0 ||
            append(v[6], evidence) < 0) {
            Py_DECREF(id);
            return -1;
        }
        p->counts[o->verdict]++;
    }
    Py_DECREF(id);
    return 0;
}

/* Run every item on the episode of one line: K_OK (p->outcomes filled), K_FALLBACK or K_NOMEM. */
static int run_items(Plan *p, const char *line, size_t n, long long *signature) {
    int rc = episode_from_json(&p->ep, line, n, p->fmt);
    if (rc == K_OK) rc = episode_merge_metadata(&p->ep, p->shared);  /* the checks see what Python's do */
    scratch_episode(&p->scratch);
    *signature = 0;
    for (int i = 0; i < p->n_items && rc == K_OK; i++) {
        rc = run_item(&p->items[i], &p->ep, &p->scratch, &p->outcomes[i]);
        if (rc == K_OK) *signature |= (long long)p->outcomes[i].verdict << (2 * i);
    }
    return rc;
}

/* Score one line: K_OK (rows appended), K_FALLBACK (nothing appended) or K_NOMEM. */
static int score_line(Plan *p, const char *line, size_t n, Py_ssize_t line_no, long long *signature) {
    int rc = run_items(p, line, n, signature);
    if (rc == K_OK && append_rows(p, line_no, *signature) < 0) rc = K_NOMEM;
    Py_CLEAR(p->ep.metadata);
    if (rc == K_NOMEM && !PyErr_Occurred()) PyErr_NoMemory();
    return rc;
}

/* plan.verdicts(line) -> ((verdict, reason, evidence), ...) for the items, or None when the kernel
 * declines the line: one JSONL line (bytes) of the format set_source named, scored for a rubric
 * whose other items run in Python (no rows appended, nothing counted). */
static PyObject *plan_verdicts(Plan *p, PyObject *arg) {
    Py_buffer data;
    if (p->format == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "call plan.set_source() first");
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) return NULL;
    long long signature;
    int rc = run_items(p, data.buf, (size_t)data.len, &signature);
    PyBuffer_Release(&data);
    Py_CLEAR(p->ep.metadata);
    if (rc == K_NOMEM) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return NULL;
    }
    if (rc != K_OK) Py_RETURN_NONE;
    PyObject *out = PyTuple_New(p->n_items);
    for (int i = 0; out != NULL && i < p->n_items; i++) {
        KOutcome *o = &p->outcomes[i];
        PyObject *evidence = evidence_tuple(o);
        PyObject *reason = evidence != NULL ? reason_text(p, &o->reason) : NULL;
        PyObject *row = reason != NULL ? PyTuple_Pack(3, p->verdict_names[o->verdict], reason, evidence) : NULL;
        Py_XDECREF(evidence);
        Py_XDECREF(reason);
        if (row == NULL) Py_CLEAR(out);
        else PyTuple_SET_ITEM(out, i, row);
    }
    return out;
}

static int ready(Plan *p) {
    if (p->ecols[0] == NULL || p->source_path == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "call plan.bind() and plan.set_source() first");
        return 0;
    }
    return 1;
}

static int blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || p[i] == '\v' || p[i] == '\f')) return 0;
    return 1;
}

/* score_chunk(plan, data, pos, stop, line_no) -> (status, pos, line_no, scored, scored_bytes)
 *
 * Scores the complete lines of data[pos:] (a line ends with b"\n"; blank lines are counted and
 * skipped) that start before `stop`, `line_no` being the number of the line at `pos`. Returns when
 * status is 0: no complete line is left at pos (read more); 1: the line at pos is declined (the
 * Python path reads it; it has number line_no); 2: the line at pos starts at or after `stop`. */
PyObject *kscore_score_chunk(PyObject *self, PyObject *args) {
    Plan *p;
    Py_buffer data;
    Py_ssize_t pos, stop, line_no;
    if (!PyArg_ParseTuple(args, "O!y*nnn:score_chunk", &PlanType, &p, &data, &pos, &stop, &line_no)) return NULL;
    if (!ready(p)) {
        PyBuffer_Release(&data);
        return NULL;
    }
    const char *buf = data.buf;
    Py_ssize_t len = data.len, scored = 0, scored_bytes = 0;
    int status = 0;
    if (pos < 0) pos = 0;
    while (pos < len) {
        if (pos >= stop) {
            status = 2;
            break;
        }
        const char *nl = memchr(buf + pos, '\n', (size_t)(len - pos));
        if (nl == NULL) break;
        size_t n = (size_t)(nl - (buf + pos)) + 1;
        if (!blank(buf + pos, n)) {
            long long signature;
            int rc = score_line(p, buf + pos, n, line_no, &signature);
            if (rc == K_NOMEM) {
                PyBuffer_Release(&data);
                return NULL;
            }
            if (rc != K_OK) {
                status = 1;
                break;
            }
            scored++;
            scored_bytes += (Py_ssize_t)n;
        }
        pos += (Py_ssize_t)n;
        line_no++;
    }
    PyBuffer_Release(&data);
    return Py_BuildValue("(innnn)", status, pos, line_no, scored, scored_bytes);
}

/* count_lines(data) -> the number of b"\n" in data (a buffer: bytes, bytearray, mmap). */
PyObject *kscore_count_lines(PyObject *self, PyObject *arg) {
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) return NULL;
    const char *p = data.buf, *end = p + data.len;
    Py_ssize_t n = 0;
    Py_BEGIN_ALLOW_THREADS
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(n);
}

#ifdef RUBRICATE_KERNEL_DEBUG  /* test builds only (scripts/build-kernel.sh --debug) */
/* A Python value (int, str, list or tuple of those) encoded as a check encodes its arguments. */
static int debug_encode(KBuf *b, PyObject *v) {
    char tag;
    if (PyLong_Check(v)) {
        long long x = PyLong_AsLongLong(v);
        tag = RA_INT;
        if (x == -1 && PyErr_Occurred()) return K_NOMEM;
        return buf_put(b, &tag, 1) == K_OK ? buf_put(b, (const char *)&x, sizeof x) : K_NOMEM;
    }
    if (PyUnicode_Check(v)) {
        Py_ssize_t n;
        const char *u = PyUnicode_AsUTF8AndSize(v, &n);
        tag = RA_STR;
        if (u == NULL || buf_put(b, &tag, 1) != K_OK || buf_put(b, (const char *)&n, sizeof n) != K_OK) return K_NOMEM;
        return buf_put(b, u, (size_t)n);
    }
    if (!PyList_Check(v) && !PyTuple_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "_debug_reason: arguments are ints, strs, lists and tuples");
        return K_NOMEM;
    }
    tag = PyList_Check(v) ? RA_LIST : RA_TUPLE;
    if (buf_put(b, &tag, 1) != K_OK) return K_NOMEM;
    for (Py_ssize_t i = 0; i < PySequence_Size(v); i++) {
        PyObject *item = PySequence_GetItem(v, i);
        int rc = item != NULL ? debug_encode(b, item) : K_NOMEM;
        Py_XDECREF(item);
        if (rc != K_OK) return rc;
    }
    tag = RA_END;
    return buf_put(b, &tag, 1);
}

/* plan._debug_reason(code, args): the text of reason `code` (an index of REASONS) given `args`. */
static PyObject *plan_debug_reason(Plan *p, PyObject *args) {
    int code;
    PyObject *values;
    if (!PyArg_ParseTuple(args, "iO!:_debug_reason", &code, &PyTuple_Type, &values)) return NULL;
    if (code < 0 || code >= REASON_COUNT) return PyErr_Format(PyExc_ValueError, "no reason %d", code);
    KBuf r = {NULL, 0, 0};
    char c[2] = {(char)(code & 0xFF), (char)(code >> 8)};
    int rc = buf_put(&r, c, 2);
    for (Py_ssize_t i = 0; rc == K_OK && i < PyTuple_GET_SIZE(values); i++) rc = debug_encode(&r, PyTuple_GET_ITEM(values, i));
    PyObject *text = rc == K_OK ? reason_text(p, &r) : NULL;
    PyMem_Free(r.p);
    return text;
}
#endif  /* RUBRICATE_KERNEL_DEBUG */
