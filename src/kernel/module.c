/* rubricate._kernel: the Python module. The scoring entry points live in score.c. */
#include "kernel.h"

#ifdef RUBRICATE_KERNEL_DEBUG
#define KERNEL_DEBUG 1
#else
#define KERNEL_DEBUG 0
#endif

PyObject *kscore_plan_type(void);  /* score.c: the Plan type, or NULL with an error set */
PyObject *kscore_score_chunk(PyObject *self, PyObject *args);
PyObject *kscore_count_lines(PyObject *self, PyObject *arg);
int kscore_add_declaration(PyObject *m);  /* score.c: CHECKS, PARAMS, REASONS, MAX_ITEMS */
int kchecks_add_words(PyObject *m);  /* checks.c: WORDS, the checks' word tables */

static PyMethodDef methods[] = {
    {"score_chunk", kscore_score_chunk, METH_VARARGS,
     "score_chunk(plan, data, pos, stop, line_no) -> (status, pos, line_no, scored, scored_bytes)"},
    {"count_lines", kscore_count_lines, METH_O, "count_lines(data) -> the number of newlines in a buffer"},
#ifdef RUBRICATE_KERNEL_DEBUG  /* test builds only: the differential tests' view of each part */
    {"_debug_json", kdebug_json, METH_O, NULL},
    {"_debug_json_utf8", kdebug_json_utf8, METH_O, NULL},
    {"_debug_json_equal", kdebug_json_equal, METH_VARARGS, NULL},
    {"_debug_episode", kdebug_episode, METH_O, NULL},
    {"_debug_verifiers", kdebug_verifiers, METH_VARARGS, NULL},
    {"_debug_numbers", kdebug_numbers, METH_O, NULL},
    {"_debug_pool", kdebug_pool, METH_VARARGS, NULL},
    {"_debug_number_at", kdebug_number_at, METH_VARARGS, NULL},
    {"_debug_quantities", kdebug_quantities, METH_O, NULL},
    {"_debug_id_tail", kdebug_id_tail, METH_VARARGS, NULL},
    {"_debug_tables", kdebug_tables, METH_O, NULL},
    {"_debug_looks_like_error", kdebug_looks_like_error, METH_O, NULL},
    {"_debug_marked_answer", kdebug_marked_answer, METH_O, NULL},
    {"_debug_normal_text", kdebug_normal_text, METH_O, NULL},
    {"_debug_normal_text_utf8", kdebug_normal_text_utf8, METH_O, NULL},
    {"_debug_stand_in", kdebug_stand_in, METH_O, NULL},
    {"_debug_strip_lower", kdebug_strip_lower, METH_O, NULL},
#endif
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rubricate._kernel",
    "Native scoring kernel: OpenAI-chat and verifiers-results JSONL lines to built-in verdicts "
    "(see src/kernel/README.md).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__kernel(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    PyObject *plan = kscore_plan_type();
    if (plan == NULL || PyModule_AddObject(m, "Plan", plan) < 0) {
        Py_XDECREF(plan);
        Py_DECREF(m);
        return NULL;
    }
    if (kscore_add_declaration(m) < 0 || kchecks_add_words(m) < 0 ||
        PyModule_AddIntConstant(m, "DEBUG", KERNEL_DEBUG) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
