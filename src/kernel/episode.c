/* episode.c: one JSONL line -> KEpisode, exactly as the Python reader of its format normalises it:
 * rubricate.traces.formats.openai_chat (FMT_OPENAI_CHAT) or .verifiers.VerifiersResults
 * (FMT_VERIFIERS), with add_chat_messages, _calls, first_user_text, scalar_metadata, record_episode
 * in formats/_chat.py and text_of, parse_arguments, tool_call, StepBuilder, scalar_text, as_float
 * in traces/_normalise.py.
 *
 * Reproduced natively for OpenAI-chat (ASCII text only):
 *   - a record object (no duplicate top-level keys) with a `messages` array of objects whose roles
 *     are in _ROLES;
 *   - content: string, null/missing, a list of parts (text_of: strings, {text} / {content} parts,
 *     nested lists), a dict with a string `text`, an integer or a bool; other shapes fall back;
 *   - assistant tool calls: an array of call objects ({function: {name, arguments}, id} or the
 *     flattened {name, arguments, id}) and a legacy `function_call` object; names string/null; ids
 *     string/null; arguments null/""/a string (parsed strictly: an object, or not one / invalid ->
 *     ToolCall.arguments None);
 *   - tool results: is_error bool or looks_like_error(content), tool_call_id / name string or falsy,
 *     pairing exactly as StepBuilder._pair;
 *   - record fields: id / task_id (first_of + str()), question, final_answer, ground_truth
 *     (scalar_text of strings, ints, bools), reward (as_float of null, bools, ints, floats, lists,
 *     objects) and metadata (scalar_metadata).
 * For verifiers-results, the same messages from `prompt` then `completion` (each a list of
 * messages, or a string: a user message / an assistant message without calls), plus:
 *   - tool calls given as JSON strings (decoded strictly: an object, else the reader's ValueError);
 *   - non-ASCII text (JDoc.utf8) everywhere but in tool names: each step content and the ground
 *     truth get their ASCII stand-in (KStep.text, see kernel.h) or the record falls back; strings
 *     in arguments are kept (KCall.raw_wide, JVal.wide) and the checks fall back where they would
 *     lower-case, strip or parse them;
 *   - id = str(source) (left to the caller), task_id = str(record.get("example_id",
 *     record.get("id"))), question = first_user_text, final_answer = builder.final_answer(),
 *     ground_truth = scalar_text(answer), reward = as_float(reward), metadata = scalar_metadata(
 *     record, _CONSUMED) plus a string `task`; the file's shared metadata is merged in by
 *     episode_merge_metadata.
 * Everything else is K_FALLBACK (the Python reader decides, possibly with a LoadIssue).
 *
 * Memory: the arena is reset for 2*n + 64 bytes (the line plus every arguments string parsed into
 * it; 3*n + 64 for verifiers, whose tool calls may be strings parsed in turn), and ep->text is
 * reserved up front for everything derived from the line (joined content parts, lower-cased
 * names, stand-ins), so no KStr moves while the episode is in use. KStrs point into the line
 * itself, the arena or ep->text: the caller keeps the line alive while it uses the episode.
 */
#include "kernel.h"

#include <string.h>

static const char EMPTY[] = "";

#define KEQ(k, lit) ((k).n == (Py_ssize_t)(sizeof(lit) - 1) && memcmp((k).p, lit, sizeof(lit) - 1) == 0)

static inline KStr kstr(const char *p, Py_ssize_t n) {
    KStr s = {p, n};
    return s;
}
static const KStr KNONE = {NULL, 0};

/* ------------------------------------------------------------------ buffers */

void episode_init(KEpisode *ep) {
    memset(ep, 0, sizeof *ep);
    jdoc_init(&ep->doc);
}

void episode_free(KEpisode *ep) {
    jdoc_free(&ep->doc);
    PyMem_Free(ep->steps);
    PyMem_Free(ep->calls);
    PyMem_Free(ep->pending);
    PyMem_Free(ep->text);
    Py_CLEAR(ep->metadata);
    memset(ep, 0, sizeof *ep);
}

static int grow_steps(KEpisode *ep, int need) {
    if (need <= ep->steps_cap) return K_OK;
    int cap = ep->steps_cap ? ep->steps_cap : 16;
    while (cap < need) cap *= 2;
    KStep *s = PyMem_Realloc(ep->steps, (size_t)cap * sizeof *s);
    if (s == NULL) {
        PyErr_NoMemory();
        return K_NOMEM;
    }
    ep->steps = s;
    ep->steps_cap = cap;
    return K_OK;
}

/* calls and the pending queue share one capacity (a queue never holds more than the calls made) */
static int grow_calls(KEpisode *ep, int need) {
    if (need <= ep->calls_cap) return K_OK;
    int cap = ep->calls_cap ? ep->calls_cap : 16;
    while (cap < need) cap *= 2;
    KCall *c = PyMem_Realloc(ep->calls, (size_t)cap * sizeof *c);
    if (c == NULL) {
        PyErr_NoMemory();
        return K_NOMEM;
    }
    ep->calls = c;
    int *q = PyMem_Realloc(ep->pending, (size_t)cap * sizeof *q);
    if (q == NULL) {
        PyErr_NoMemory();
        return K_NOMEM;
    }
    ep->pending = q;
    ep->calls_cap = cap;
    return K_OK;
}

/* Room in ep->text for `n` more bytes. ep->text is reserved before parsing and never moves during
 * one episode: running out of it is a fallback, not a reallocation. */
static inline char *text_take(KEpisode *ep, size_t n) {
    if (ep->text_cap - ep->text_n < n) return NULL;
    char *p = ep->text + ep->text_n;
    ep->text_n += n;
    return p;
}

/* ------------------------------------------------------------------ JSON helpers */

#define EACH(d, parent, m) \
    for (JVal *m = (parent)->first ? jv(d, (parent)->first) : NULL; m; m = m->next ? jv(d, m->next) : NULL)

/* Python truthiness of a decoded value. */
static int truthy(const JVal *v) {
    switch (v->type) {
    case J_NULL: case J_FALSE: return 0;
    case J_TRUE: return 1;
    case J_INT: return v->i != 0;
    case J_FLOAT: return v->f != 0.0;
    case J_STR: return v->str.n > 0;
    default: return v->count > 0;  /* J_ARR, J_OBJ */
    }
}

/* str(i) for a JSON integer: the text as written, except "-0" (which decodes to 0). */
static inline KStr int_text(const JVal *v) {
    if (v->str.n == 2 && v->str.p[0] == '-' && v->str.p[1] == '0') return kstr("0", 1);
    return v->str;
}

/* str(value) for record_episode's id / task_id. K_OK or K_FALLBACK. */
static int str_of(const JVal *v, KStr *out) {
    switch (v->type) {
    case J_STR: *out = v->str; return K_OK;
    case J_INT: *out = int_text(v); return K_OK;
    case J_TRUE: *out = kstr("True", 4); return K_OK;
    case J_FALSE: *out = kstr("False", 5); return K_OK;
    default: return K_FALLBACK;  /* floats (repr), lists, dicts */
    }
}

/* scalar_text(value): None, the string, or its JSON encoding. K_OK or K_FALLBACK. */
static int scalar_text(const JVal *v, KStr *out) {
    if (v == NULL || v->type == J_NULL) {
        *out = KNONE;
        return K_OK;
    }
    switch (v->type) {
    case J_STR: *out = v->str; return K_OK;
    case J_INT: *out = int_text(v); return K_OK;  /* msgspec encodes ints like str() */
    case J_TRUE: *out = kstr("true", 4); return K_OK;
    case J_FALSE: *out = kstr("false", 5); return K_OK;
    default: return K_FALLBACK;  /* floats, lists, dicts: msgspec's encoding */
    }
}

/* ------------------------------------------------------------------ content (text_of) */

static int emit(KEpisode *ep, KStr s) {
    char *p = text_take(ep, (size_t)s.n);
    if (p == NULL) return K_FALLBACK;
    memcpy(p, s.p, (size_t)s.n);
    return K_OK;
}

/* text_of(list): the parts joined by "\n", written at the end of ep->text; *wide is set when a
 * part holds non-ASCII text. */
static int emit_parts(KEpisode *ep, const JVal *list, int *wide) {
    JDoc *d = &ep->doc;
    int first = 1, rc;
    EACH(d, list, part) {
        const JVal *piece = NULL;
        if (part->type == J_STR) {
            piece = part;
        } else if (part->type == J_OBJ) {
            const JVal *text = NULL, *content = NULL;
            EACH(d, part, m) {  /* dict.get: the last duplicate wins */
                if (KEQ(m->key, "text")) text = m;
                else if (KEQ(m->key, "content")) content = m;
            }
            if (text != NULL && text->type == J_STR) piece = text;
            else if (content != NULL && (content->type == J_STR || content->type == J_ARR)) piece = content;
            else continue;
        } else {
            continue;  /* other parts are skipped */
        }
        if (!first) {
            char *p = text_take(ep, 1);
            if (p == NULL) return K_FALLBACK;
            *p = '\n';
        }
        first = 0;
        if (piece->type == J_STR) *wide |= piece->wide;
        rc = piece->type == J_STR ? emit(ep, piece->str) : emit_parts(ep, piece, wide);
        if (rc != K_OK) return rc;
    }
    return K_OK;
}

/* The step content: msg["content"] if it is a string, else text_of(it); *wide is set when it holds
 * non-ASCII text. */
static int content_of(KEpisode *ep, const JVal *v, KStr *out, int *wide) {
    *wide = 0;
    if (v == NULL || v->type == J_NULL) {
        *out = kstr(EMPTY, 0);
        return K_OK;
    }
    switch (v->type) {
    case J_STR:
        *out = v->str;
        *wide = v->wide;
        return K_OK;
    case J_ARR: {
        size_t start = ep->text_n;
        int rc = emit_parts(ep, v, wide);
        if (rc != K_OK) return rc;
        *out = kstr(ep->text + start, (Py_ssize_t)(ep->text_n - start));
        return K_OK;
    }
    case J_OBJ: {
        const JVal *text = NULL;
        EACH(&ep->doc, v, m) if (KEQ(m->key, "text")) text = m;
        if (text == NULL || text->type != J_STR) return K_FALLBACK;  /* msgspec's encoding of the dict */
        *out = text->str;
        *wide = text->wide;
        return K_OK;
    }
    case J_INT: *out = int_text(v); return K_OK;
    case J_TRUE: *out = kstr("True", 4); return K_OK;
    case J_FALSE: *out = kstr("False", 5); return K_OK;
    default: return K_FALLBACK;  /* str(float) */
    }
}

/* What the checks read of a text (`wide`: it holds non-ASCII): the text itself, or its ASCII
 * stand-in written to ep->text. K_OK, or K_FALLBACK for a character with no stand-in. */
static int checks_text(KEpisode *ep, KStr s, int wide, KStr *out) {
    if (!wide || s.p == NULL) {
        *out = s;
        return K_OK;
    }
    char *p = text_take(ep, (size_t)s.n);  /* a stand-in is never longer than its UTF-8 */
    if (p == NULL) return K_FALLBACK;
    Py_ssize_t m = stand_in(s.p, s.n, p);
    if (m < 0) return K_FALLBACK;
    ep->text_n -= (size_t)(s.n - m);  /* give back what the stand-in did not use */
    *out = kstr(p, m);
    return K_OK;
}

/* ------------------------------------------------------------------ tool calls */

/* tool_call(name, arguments, call_id) appended to ep->calls (and to the pending queue). */
static int add_call(KEpisode *ep, const JVal *name, const JVal *args, const JVal *id, int step) {
    JDoc *d = &ep->doc;
    int rc = grow_calls(ep, ep->n_calls + 1);
    if (rc != K_OK) return rc;
    KCall *c = &ep->calls[ep->n_calls];

    if (name == NULL || name->type == J_NULL) c->name = kstr(EMPTY, 0);
    else if (name->type == J_STR && !name->wide) c->name = name->str;
    else return K_FALLBACK;  /* str(name) of a number, list, ...; a non-ASCII name (lower-cased, in reasons) */

    if (id == NULL || id->type == J_NULL || (id->type == J_STR && id->str.n == 0)) c->id = KNONE;
    else if (id->type == J_STR) c->id = id->str;
    else return K_FALLBACK;

    /* parse_arguments */
    c->raw_wide = 0;
    if (args == NULL || args->type == J_NULL || (args->type == J_STR && args->str.n == 0)) {
        c->args_ok = 1;
        c->args = 0;
        c->args_raw = kstr(EMPTY, 0);
    } else if (args->type == J_STR) {
        uint32_t root = 0;
        c->args_raw = args->str;
        c->raw_wide = args->wide;
        rc = json_parse(d, args->str.p, (size_t)args->str.n, &root);  /* non-ASCII as the record (d->utf8) */
        if (rc == K_OK && jv(d, root)->type == J_OBJ) {
            if (root == 0) return K_FALLBACK;  /* 0 means {} in KCall.args; never the case after the record */
            c->args_ok = 1;
            c->args = root;
        } else if (rc == K_OK || rc == K_INVALID) {
            c->args_ok = 0;  /* not a JSON object / not valid JSON: arguments None */
            c->args = 0;
        } else {
            return rc;  /* K_FALLBACK, K_NOMEM */
        }
    } else {
        return K_FALLBACK;  /* a dict (re-encoded by msgspec) or another JSON value */
    }

    /* lower-cased name: the name itself when it has no upper-case letter */
    c->lname = c->name;
    for (Py_ssize_t i = 0; i < c->name.n; i++) {
        if (c->name.p[i] >= 'A' && c->name.p[i] <= 'Z') {
            char *p = text_take(ep, (size_t)c->name.n);
            if (p == NULL) return K_FALLBACK;
            for (Py_ssize_t j = 0; j < c->name.n; j++) p[j] = (char)k_lower((unsigned char)c->name.p[j]);
            c->lname = kstr(p, c->name.n);
            break;
        }
    }
    c->step = step;
    c->result_step = -1;
    ep->pending[ep->pend_tail++] = ep->n_calls;
    ep->n_calls++;
    return K_OK;
}

/* A tool call given as a JSON string (verifiers): msgspec.json.decode(raw) into *out (the UTF-8 of
 * a str decodes as the str does). K_OK, K_FALLBACK (not valid JSON: the reader's ValueError) or
 * K_NOMEM. */
static int decode_call(KEpisode *ep, const JVal *raw, const JVal **out) {
    JDoc *d = &ep->doc;
    uint32_t root = 0;
    int rc = json_parse(d, raw->str.p, (size_t)raw->str.n, &root);
    if (rc == K_INVALID) return K_FALLBACK;  /* the line is valid JSON; the record is a LoadIssue */
    if (rc != K_OK) return rc;
    *out = jv(d, root);
    return K_OK;
}

/* _calls(msg, i): the calls of an assistant message. */
static int add_calls(KEpisode *ep, const JVal *tool_calls, const JVal *function_call, int step) {
    JDoc *d = &ep->doc;
    int rc;
    if (tool_calls != NULL && truthy(tool_calls)) {
        if (tool_calls->type != J_ARR) return K_FALLBACK;  /* ValueError: tool_calls must be a list */
        EACH(d, tool_calls, item) {
            const JVal *raw = item;
            if (raw->type == J_STR && ep->format == FMT_VERIFIERS) {
                if ((rc = decode_call(ep, raw, &raw)) != K_OK) return rc;
            }
            if (raw->type != J_OBJ) return K_FALLBACK;  /* ValueError: the tool call is not an object */
            const JVal *fn = NULL, *id = NULL, *name = NULL, *args = NULL;
            EACH(d, raw, m) {
                if (KEQ(m->key, "function")) fn = m;
                else if (KEQ(m->key, "id")) id = m;
                else if (KEQ(m->key, "name")) name = m;
                else if (KEQ(m->key, "arguments")) args = m;
            }
            if (fn != NULL && fn->type == J_OBJ) {
                name = args = NULL;
                EACH(d, fn, m) {
                    if (KEQ(m->key, "name")) name = m;
                    else if (KEQ(m->key, "arguments")) args = m;
                }
            }
            rc = add_call(ep, name, args, id, step);
            if (rc != K_OK) return rc;
        }
    }
    if (function_call != NULL && function_call->type == J_OBJ) {  /* legacy function_call */
        const JVal *name = NULL, *args = NULL;
        EACH(d, function_call, m) {
            if (KEQ(m->key, "name")) name = m;
            else if (KEQ(m->key, "arguments")) args = m;
        }
        rc = add_call(ep, name, args, NULL, step);
        if (rc != K_OK) return rc;
    }
    return K_OK;
}

/* StepBuilder._pair: the pending call a result answers (its index in ep->calls), or -1. */
static int pair(KEpisode *ep, KStr call_id) {
    int head = ep->pend_head, tail = ep->pend_tail;
    if (head == tail) return -1;
    if (call_id.p == NULL) {
        ep->pend_head++;
        return ep->pending[head];
    }
    for (int i = head; i < tail; i++) {
        int ci = ep->pending[i];
        KStr id = ep->calls[ci].id;
        if (id.p != NULL && id.n == call_id.n && memcmp(id.p, call_id.p, (size_t)id.n) == 0) {
            if (i == head) {
                ep->pend_head++;
            } else {
                memmove(ep->pending + i, ep->pending + i + 1, (size_t)(tail - i - 1) * sizeof(int));
                ep->pend_tail--;
            }
            return ci;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ messages */

/* `msg.get(key) or None` for a name / id that must be a string: NONE, the string, or K_FALLBACK. */
static int str_or_none(const JVal *v, KStr *out) {
    if (v == NULL || !truthy(v)) {
        *out = KNONE;
        return K_OK;
    }
    if (v->type != J_STR) return K_FALLBACK;
    *out = v->str;
    return K_OK;
}

static int add_message(KEpisode *ep, const JVal *msg) {
    JDoc *d = &ep->doc;
    if (msg->type != J_OBJ) return K_FALLBACK;  /* ValueError: message i is not an object */
    const JVal *role = NULL, *content = NULL, *tool_calls = NULL, *function_call = NULL, *name = NULL,
               *tool_call_id = NULL, *is_error = NULL;
    EACH(d, msg, m) {  /* dict semantics: the last duplicate wins */
        KStr k = m->key;
        switch (k.n) {
        case 4:
            if (KEQ(k, "role")) role = m;
            else if (KEQ(k, "name")) name = m;
            break;
        case 7: if (KEQ(k, "content")) content = m; break;
        case 8: if (KEQ(k, "is_error")) is_error = m; break;
        case 10: if (KEQ(k, "tool_calls")) tool_calls = m; break;
        case 12: if (KEQ(k, "tool_call_id")) tool_call_id = m; break;
        case 13: if (KEQ(k, "function_call")) function_call = m; break;
        }
    }
    if (role == NULL || role->type != J_STR) return K_FALLBACK;  /* unknown role */
    int r;
    KStr rs = role->str;
    if (KEQ(rs, "assistant")) r = ROLE_ASSISTANT;
    else if (KEQ(rs, "tool")) r = ROLE_TOOL;
    else if (KEQ(rs, "user")) r = ROLE_USER;
    else if (KEQ(rs, "system") || KEQ(rs, "developer")) r = ROLE_SYSTEM;
    else if (KEQ(rs, "function") || KEQ(rs, "ipython")) r = ROLE_TOOL;
    else return K_FALLBACK;

    int rc = grow_steps(ep, ep->n_steps + 1);
    if (rc != K_OK) return rc;
    int index = ep->n_steps;
    KStep *s = &ep->steps[index];
    s->role = r;
    s->name = KNONE;
    s->first_call = ep->n_calls;
    s->n_calls = 0;
    s->is_error = 0;
    s->call_step = -1;
    int wide;
    rc = content_of(ep, content, &s->content, &wide);
    if (rc != K_OK) return rc;
    if ((rc = checks_text(ep, s->content, wide, &s->text)) != K_OK) return rc;

    if (r == ROLE_ASSISTANT) {
        if ((tool_calls != NULL && truthy(tool_calls)) || function_call != NULL) {
            rc = add_calls(ep, tool_calls, function_call, index);
            if (rc != K_OK) return rc;
            s = &ep->steps[index];
            s->n_calls = ep->n_calls - s->first_call;
        }
    } else if (r == ROLE_TOOL) {
        KStr call_id, tool_name;
        if ((rc = str_or_none(tool_call_id, &call_id)) != K_OK) return rc;
        if ((rc = str_or_none(name, &tool_name)) != K_OK) return rc;
        int ci = pair(ep, call_id);
        if (ci >= 0) {
            KCall *c = &ep->calls[ci];
            c->result_step = index;
            s->call_step = c->step;
            if (tool_name.p == NULL) tool_name = c->name;  /* tool_name or call.name */
        }
        s->name = tool_name;  /* tool steps: Step.tool_name */
        if (is_error != NULL && (is_error->type == J_TRUE || is_error->type == J_FALSE))
            s->is_error = is_error->type == J_TRUE;
        else
            s->is_error = looks_like_error(s->text.p, s->text.n) ? 1 : 0;
    } else {
        if ((rc = str_or_none(name, &s->name)) != K_OK) return rc;
    }
    ep->n_steps++;
    return K_OK;
}

/* ------------------------------------------------------------------ record fields */

enum {
    F_MESSAGES, F_METADATA, F_FINAL, F_REWARD, F_QUESTION,
    F_ID, F_EPISODE_ID, F_UID, F_ROLLOUT_ID,                     /* ID_KEYS, in order */
    F_TASK_ID, F_EXAMPLE_ID, F_QUESTION_ID,                      /* TASK_KEYS */
    F_GROUND_TRUTH, F_ANSWER, F_EXPECTED, F_EXPECTED_ANSWER, F_TARGET, F_GOLD,  /* TRUTH_KEYS */
    F_COUNT
};

typedef struct {
    const char *s;
    Py_ssize_t n;
} KName;

#define F(lit) {lit, sizeof(lit) - 1}
static const KName FIELDS[F_COUNT] = {
    F("messages"), F("metadata"), F("final_answer"), F("reward"), F("question"),
    F("id"), F("episode_id"), F("uid"), F("rollout_id"),
    F("task_id"), F("example_id"), F("question_id"),
    F("ground_truth"), F("answer"), F("expected"), F("expected_answer"), F("target"), F("gold"),
};

/* verifiers' _CONSUMED: the fields VerifiersResults reads, kept out of the metadata */
enum { VF_PROMPT, VF_COMPLETION, VF_ANSWER, VF_REWARD, VF_INFO, VF_EXAMPLE_ID, VF_ID, VF_TASK, VF_METADATA,
       VF_STATE, VF_COUNT };
static const KName VFIELDS[VF_COUNT] = {
    F("prompt"), F("completion"), F("answer"), F("reward"), F("info"), F("example_id"), F("id"), F("task"),
    F("metadata"), F("state"),
};
#undef F

static int name_index(const KName *names, int count, KStr k) {
    for (int f = 0; f < count; f++)
        if (names[f].n == k.n && memcmp(names[f].s, k.p, (size_t)k.n) == 0) return f;
    return -1;
}

/* The field a top-level key names ({"messages"} | RECORD_KEYS), or -1. */
static int field_of(KStr k) { return name_index(FIELDS, F_COUNT, k); }

/* The verifiers field a top-level key names (_CONSUMED), or -1. */
static int vfield_of(KStr k) { return name_index(VFIELDS, VF_COUNT, k); }

/* first_of(record, keys) over fields [lo, hi) */
static const JVal *first_of(const JVal *const *f, int lo, int hi) {
    for (int i = lo; i < hi; i++) {
        const JVal *v = f[i];
        if (v == NULL || v->type == J_NULL || (v->type == J_STR && v->str.n == 0)) continue;
        return v;
    }
    return NULL;
}

static PyObject *str_to_py(KStr s) { return PyUnicode_FromStringAndSize(s.p, s.n); }

/* scalar_metadata(record, skip), `consumed` telling the keys of `skip` */
static int build_metadata(KEpisode *ep, const JVal *root, const JVal *meta_v, int (*consumed)(KStr)) {
    JDoc *d = &ep->doc;
    PyObject *meta;
    if (meta_v != NULL && meta_v->type == J_OBJ) {
        if (json_has_duplicate_keys(d, meta_v)) return K_FALLBACK;
        meta = json_to_py(d, meta_v);
        if (meta == NULL) return K_NOMEM;
        if (!PyDict_CheckExact(meta)) {
            Py_DECREF(meta);
            return K_FALLBACK;
        }
    } else {
        meta = PyDict_New();
        if (meta == NULL) return K_NOMEM;
    }
    EACH(d, root, m) {
        if (!(m->type == J_STR || m->type == J_INT || m->type == J_FLOAT || m->type == J_TRUE ||
              m->type == J_FALSE))
            continue;
        if (consumed(m->key) >= 0) continue;
        PyObject *key = str_to_py(m->key);
        if (key == NULL) goto fail;
        int has = PyDict_GET_SIZE(meta) ? PyDict_Contains(meta, key) : 0;
        if (has != 0) {
            Py_DECREF(key);
            if (has < 0) goto fail;
            continue;
        }
        PyObject *value = json_to_py(d, m);
        if (value == NULL) {
            Py_DECREF(key);
            goto fail;
        }
        int err = PyDict_SetItem(meta, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        if (err < 0) goto fail;
    }
    ep->metadata = meta;
    return K_OK;
fail:
    Py_DECREF(meta);
    return K_NOMEM;  /* a Python error is set */
}

/* first_user_text(builder): the first user step with content (and its stand-in). */
static void first_user_text(KEpisode *ep) {
    ep->question = ep->question_text = KNONE;
    for (int i = 0; i < ep->n_steps; i++) {
        if (ep->steps[i].role == ROLE_USER && ep->steps[i].content.n > 0) {
            ep->question = ep->steps[i].content;
            ep->question_text = ep->steps[i].text;
            return;
        }
    }
}

/* builder.final_answer(): the last assistant text, if no tool result comes after it. The strip()
 * test reads the stand-in: it is blank exactly when the text is. */
static void builder_final_answer(KEpisode *ep) {
    ep->final_answer = ep->final_text = KNONE;
    for (int i = ep->n_steps - 1; i >= 0; i--) {
        const KStep *s = &ep->steps[i];
        if (s->role == ROLE_TOOL) return;
        if (s->role == ROLE_ASSISTANT) {
            Py_ssize_t j = 0;
            while (j < s->text.n && k_isspace((unsigned char)s->text.p[j])) j++;
            if (j < s->text.n) {
                ep->final_answer = s->content;
                ep->final_text = s->text;
                return;
            }
        }
    }
}

/* as_float(record.get("reward")). K_OK or K_FALLBACK. */
static int reward_of(KEpisode *ep, const JVal *v) {
    ep->has_reward = 0;
    ep->reward = 0.0;
    if (v == NULL) return K_OK;
    switch (v->type) {
    case J_TRUE: ep->has_reward = 1; ep->reward = 1.0; break;
    case J_FALSE: ep->has_reward = 1; ep->reward = 0.0; break;
    case J_INT: ep->has_reward = 1; ep->reward = (double)v->i; break;
    case J_FLOAT: ep->has_reward = 1; ep->reward = v->f; break;
    case J_STR: return K_FALLBACK;  /* float(str) */
    default: break;                 /* null, list, dict: None */
    }
    return K_OK;
}

/* Empty the episode and parse the line (the arena and ep->text sized for `factor` * n bytes):
 * K_OK with ep->root an object without duplicate keys, or the status to return. */
static int begin(KEpisode *ep, const char *p, size_t n, int format, int utf8, size_t factor) {
    int rc;
    ep->format = format;
    ep->n_steps = ep->n_calls = 0;
    ep->pend_head = ep->pend_tail = 0;
    ep->id = ep->task_id = ep->question = ep->final_answer = ep->ground_truth = KNONE;
    ep->question_text = ep->final_text = ep->truth_text = KNONE;
    ep->has_reward = 0;
    ep->reward = 0.0;
    ep->root = 0;

    /* the arena: the line plus every string parsed from it in turn (arguments; verifiers' calls) */
    if ((rc = jdoc_reset(&ep->doc, factor * n + 64)) != K_OK) return rc;
    /* ep->text: joined content parts (at most the line's string bytes plus one separator per part),
     * lower-cased names (at most the line's name bytes) and stand-ins (at most the text they stand
     * in for) */
    size_t need = factor * n + 64;
    if (ep->text_cap < need) {
        size_t cap = ep->text_cap ? ep->text_cap : 4096;
        while (cap < need) cap *= 2;
        char *t = PyMem_Malloc(cap);
        if (t == NULL) {
            PyErr_NoMemory();
            return K_NOMEM;
        }
        PyMem_Free(ep->text);
        ep->text = t;
        ep->text_cap = cap;
    }
    ep->text_n = 0;

    ep->doc.utf8 = utf8;
    rc = json_parse(&ep->doc, p, n, &ep->root);
    if (rc != K_OK) return rc;
    const JVal *root = jv(&ep->doc, ep->root);
    if (root->type != J_OBJ) return K_FALLBACK;  /* LoadIssue: record is not an object */
    if (json_has_duplicate_keys(&ep->doc, root)) return K_FALLBACK;
    return K_OK;
}

/* OpenAIChat.episode: add_chat_messages(record["messages"]) and record_episode. */
static int openai_chat(KEpisode *ep, const char *p, size_t n) {
    int rc = begin(ep, p, n, FMT_OPENAI_CHAT, 0, 2);
    if (rc != K_OK) return rc;
    JDoc *d = &ep->doc;
    const JVal *root = jv(d, ep->root);

    const JVal *f[F_COUNT] = {0};
    EACH(d, root, m) {
        int k = field_of(m->key);
        if (k >= 0) f[k] = m;
    }
    const JVal *messages = f[F_MESSAGES];
    if (messages == NULL || messages->type != J_ARR) return K_FALLBACK;
    if ((rc = grow_steps(ep, (int)messages->count)) != K_OK) return rc;
    EACH(d, messages, msg) {
        if ((rc = add_message(ep, msg)) != K_OK) return rc;
    }

    const JVal *v = first_of(f, F_ID, F_TASK_ID);
    if (v != NULL && (rc = str_of(v, &ep->id)) != K_OK) return rc;
    v = first_of(f, F_TASK_ID, F_GROUND_TRUTH);
    if (v != NULL && (rc = str_of(v, &ep->task_id)) != K_OK) return rc;

    /* question: scalar_text(record.get("question")) or first_user_text(builder) (all ASCII here) */
    if ((rc = scalar_text(f[F_QUESTION], &ep->question)) != K_OK) return rc;
    ep->question_text = ep->question;
    if (ep->question.n == 0) first_user_text(ep);

    /* final_answer: scalar_text(final) if final is not None else builder.final_answer() */
    v = f[F_FINAL];
    if (v != NULL && v->type != J_NULL) {
        if ((rc = scalar_text(v, &ep->final_answer)) != K_OK) return rc;
        ep->final_text = ep->final_answer;
    } else {
        builder_final_answer(ep);
    }

    if ((rc = scalar_text(first_of(f, F_GROUND_TRUTH, F_COUNT), &ep->ground_truth)) != K_OK) return rc;
    ep->truth_text = ep->ground_truth;
    if ((rc = reward_of(ep, f[F_REWARD])) != K_OK) return rc;
    return build_metadata(ep, root, f[F_METADATA], field_of);
}

/* One part of a verifiers record (prompt: `role` user; completion: assistant): a string is one
 * message of that role (an assistant one without calls), anything else goes to add_chat_messages
 * (which refuses what is not a list). */
static int add_part(KEpisode *ep, const JVal *part, int role) {
    int rc;
    if (part->type == J_STR) {
        if ((rc = grow_steps(ep, ep->n_steps + 1)) != K_OK) return rc;
        KStep *s = &ep->steps[ep->n_steps];
        s->role = role;
        s->content = part->str;
        s->name = KNONE;
        s->first_call = ep->n_calls;
        s->n_calls = 0;
        s->is_error = 0;
        s->call_step = -1;
        if ((rc = checks_text(ep, s->content, part->wide, &s->text)) != K_OK) return rc;
        ep->n_steps++;
        return K_OK;
    }
    if (part->type != J_ARR) return K_FALLBACK;  /* ValueError: messages must be a list */
    if ((rc = grow_steps(ep, ep->n_steps + (int)part->count)) != K_OK) return rc;
    EACH(&ep->doc, part, msg) {
        if ((rc = add_message(ep, msg)) != K_OK) return rc;
    }
    return K_OK;
}

/* VerifiersResults.episode. */
static int verifiers(KEpisode *ep, const char *p, size_t n) {
    int rc = begin(ep, p, n, FMT_VERIFIERS, 1, 3);
    if (rc != K_OK) return rc;
    JDoc *d = &ep->doc;
    const JVal *root = jv(d, ep->root);

    const JVal *f[VF_COUNT] = {0};
    EACH(d, root, m) {
        int k = vfield_of(m->key);
        if (k >= 0) f[k] = m;
    }
    const JVal *prompt = f[VF_PROMPT], *completion = f[VF_COMPLETION];
    if (prompt == NULL || prompt->type == J_NULL || completion == NULL || completion->type == J_NULL)
        return K_FALLBACK;  /* NotAnEpisode: needs both 'prompt' and 'completion' */
    if ((rc = add_part(ep, prompt, ROLE_USER)) != K_OK) return rc;
    if ((rc = add_part(ep, completion, ROLE_ASSISTANT)) != K_OK) return rc;

    /* task_id: record.get("example_id", record.get("id")) -- a present example_id wins, even null */
    const JVal *task = f[VF_EXAMPLE_ID] != NULL ? f[VF_EXAMPLE_ID] : f[VF_ID];
    if (task != NULL && task->type != J_NULL && (rc = str_of(task, &ep->task_id)) != K_OK) return rc;

    first_user_text(ep);
    builder_final_answer(ep);

    const JVal *answer = f[VF_ANSWER];
    if ((rc = scalar_text(answer, &ep->ground_truth)) != K_OK) return rc;
    int wide = answer != NULL && answer->type == J_STR && answer->wide;
    if ((rc = checks_text(ep, ep->ground_truth, wide, &ep->truth_text)) != K_OK) return rc;
    if ((rc = reward_of(ep, f[VF_REWARD])) != K_OK) return rc;

    if ((rc = build_metadata(ep, root, f[VF_METADATA], vfield_of)) != K_OK) return rc;
    const JVal *t = f[VF_TASK];
    if (t != NULL && t->type == J_STR) {  /* meta["task"] = record["task"]: a metadata "task" keeps its place */
        PyObject *value = json_to_py(d, t);
        if (value == NULL || PyDict_SetItemString(ep->metadata, "task", value) < 0) {
            Py_XDECREF(value);
            return K_NOMEM;
        }
        Py_DECREF(value);
    }
    return K_OK;
}

int episode_from_json(KEpisode *ep, const char *p, size_t n, int format) {
    Py_CLEAR(ep->metadata);
    int rc = format == FMT_VERIFIERS ? verifiers(ep, p, n) : openai_chat(ep, p, n);
    if (rc != K_OK) Py_CLEAR(ep->metadata);
    return rc;
}

int episode_merge_metadata(KEpisode *ep, PyObject *shared) {
    if (shared == NULL || PyDict_GET_SIZE(shared) == 0) return K_OK;  /* `if shared`: nothing to merge */
    PyObject *merged = PyDict_Copy(shared);  /* {**shared, **item.metadata}: shared's keys first, */
    if (merged == NULL) return K_NOMEM;
    if (PyDict_Update(merged, ep->metadata) < 0) {  /* the record's values win, new keys follow */
        Py_DECREF(merged);
        return K_NOMEM;
    }
    Py_SETREF(ep->metadata, merged);
    return K_OK;
}

#ifdef RUBRICATE_KERNEL_DEBUG  /* test builds only (scripts/build-kernel.sh --debug) */
/* ------------------------------------------------------------------ debug shim */

static PyObject *kstr_or_none(KStr s) {
    if (s.p == NULL) Py_RETURN_NONE;
    return str_to_py(s);
}

static PyObject *int_or_none(int i) {
    if (i < 0) Py_RETURN_NONE;
    return PyLong_FromLong(i);
}

static const char *const ROLE_NAMES[] = {"system", "user", "assistant", "tool"};

/* Set d[key] = value, stealing the reference to value; -1 on error. */
static int put(PyObject *d, const char *key, PyObject *value) {
    if (value == NULL) return -1;
    int err = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return err;
}

static PyObject *episode_dict(KEpisode *ep) {
    JDoc *d = &ep->doc;
    PyObject *out = PyDict_New(), *steps = NULL;
    if (out == NULL) return NULL;
    if (put(out, "id", kstr_or_none(ep->id)) < 0 || put(out, "task_id", kstr_or_none(ep->task_id)) < 0 ||
        put(out, "question", kstr_or_none(ep->question)) < 0 ||
        put(out, "final_answer", kstr_or_none(ep->final_answer)) < 0 ||
        put(out, "ground_truth", kstr_or_none(ep->ground_truth)) < 0 ||
        put(out, "reward", ep->has_reward ? PyFloat_FromDouble(ep->reward) : Py_NewRef(Py_None)) < 0 ||
        put(out, "metadata", Py_NewRef(ep->metadata)) < 0)
        goto fail;
    steps = PyList_New(0);
    if (steps == NULL) goto fail;
    for (int i = 0; i < ep->n_steps; i++) {
        const KStep *s = &ep->steps[i];
        PyObject *sd = PyDict_New(), *calls = NULL;
        if (sd == NULL) goto fail;
        if (PyList_Append(steps, sd) < 0) {
            Py_DECREF(sd);
            goto fail;
        }
        Py_DECREF(sd);
        if (put(sd, "index", PyLong_FromLong(i)) < 0 || put(sd, "role", PyUnicode_FromString(ROLE_NAMES[s->role])) < 0 ||
            put(sd, "content", str_to_py(s->content)) < 0 || put(sd, "text", str_to_py(s->text)) < 0 ||
            put(sd, "name", kstr_or_none(s->name)) < 0 ||
            put(sd, "is_error", PyBool_FromLong(s->is_error)) < 0 ||
            put(sd, "call_step", int_or_none(s->call_step)) < 0)
            goto fail;
        calls = PyList_New(0);
        if (calls == NULL || put(sd, "tool_calls", Py_NewRef(calls)) < 0) {
            Py_XDECREF(calls);
            goto fail;
        }
        Py_DECREF(calls);  /* sd holds it */
        for (int j = s->first_call; j < s->first_call + s->n_calls; j++) {
            const KCall *c = &ep->calls[j];
            PyObject *cd = PyDict_New(), *args;
            if (cd == NULL) goto fail;
            if (PyList_Append(calls, cd) < 0) {
                Py_DECREF(cd);
                goto fail;
            }
            Py_DECREF(cd);
            if (!c->args_ok) args = Py_NewRef(Py_None);
            else if (c->args == 0) args = PyDict_New();
            else args = json_to_py(d, jv(d, c->args));
            if (put(cd, "name", str_to_py(c->name)) < 0 || put(cd, "lname", str_to_py(c->lname)) < 0 ||
                put(cd, "arguments", args) < 0 || put(cd, "arguments_raw", str_to_py(c->args_raw)) < 0 ||
                put(cd, "id", kstr_or_none(c->id)) < 0 || put(cd, "step", PyLong_FromLong(c->step)) < 0 ||
                put(cd, "result_step", int_or_none(c->result_step)) < 0)
                goto fail;
        }
    }
    if (put(out, "steps", steps) < 0) {
        steps = NULL;
        goto fail;
    }
    return out;
fail:
    Py_XDECREF(steps);
    Py_DECREF(out);
    return NULL;
}

/* One line of `format` as episode_dict, "invalid" or "fallback"; `shared` (or NULL) merged in. One
 * KEpisode is reused across calls and formats (under the GIL), as the scorer reuses its own: the
 * tests exercise the reset of counts and the reuse of buffers between records. */
static PyObject *debug_episode(PyObject *line, int format, PyObject *shared) {
    char *p;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(line, &p, &n) < 0) return NULL;
    static KEpisode ep;
    static int ready = 0;
    if (!ready) {
        episode_init(&ep);
        ready = 1;
    }
    PyObject *out;
    int rc = episode_from_json(&ep, p, (size_t)n, format);
    if (rc == K_OK) rc = episode_merge_metadata(&ep, shared);
    if (rc == K_OK) out = episode_dict(&ep);
    else if (rc == K_INVALID) out = PyUnicode_FromString("invalid");
    else if (rc == K_FALLBACK) out = PyUnicode_FromString("fallback");
    else out = NULL;  /* K_NOMEM: the error is set */
    Py_CLEAR(ep.metadata);
    return out;
}

PyObject *kdebug_episode(PyObject *self, PyObject *arg) { return debug_episode(arg, FMT_OPENAI_CHAT, NULL); }

PyObject *kdebug_verifiers(PyObject *self, PyObject *args) {
    PyObject *line, *shared = NULL;
    if (!PyArg_ParseTuple(args, "O|O!:_debug_verifiers", &line, &PyDict_Type, &shared)) return NULL;
    return debug_episode(line, FMT_VERIFIERS, shared);
}

#endif  /* RUBRICATE_KERNEL_DEBUG */
