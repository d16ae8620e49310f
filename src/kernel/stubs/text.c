/* text.c: stub until implemented (see kernel.h). */
#include "kernel.h"
PyObject *kdebug_tables(PyObject *self, PyObject *arg) { Py_RETURN_NONE; }
PyObject *kdebug_looks_like_error(PyObject *self, PyObject *arg) { Py_RETURN_NONE; }
PyObject *kdebug_marked_answer(PyObject *self, PyObject *arg) { Py_RETURN_NONE; }
PyObject *kdebug_normal_text(PyObject *self, PyObject *arg) { Py_RETURN_NONE; }
void names_init(KNames *v) { memset(v, 0, sizeof *v); }
void names_free(KNames *v) { memset(v, 0, sizeof *v); }
void names_clear(KNames *v) { v->n = 0; v->buf_n = 0; }
int sql_tables(const char *sql, Py_ssize_t n, KNames *out) { return K_FALLBACK; }
int looks_like_error(const char *s, Py_ssize_t n) { return 0; }
KStr marked_answer(const char *s, Py_ssize_t n) { KStr r = {s, n}; return r; }
Py_ssize_t normal_text(const char *s, Py_ssize_t n, char *out) { return 0; }
