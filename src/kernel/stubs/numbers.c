/* numbers.c: stub until implemented (see kernel.h). */
#include "kernel.h"
PyObject *kdebug_numbers(PyObject *self, PyObject *arg) { Py_RETURN_NONE; }
PyObject *kdebug_pool(PyObject *self, PyObject *args) { Py_RETURN_NONE; }
PyObject *kdebug_number_at(PyObject *self, PyObject *args) { Py_RETURN_NONE; }
void numbers_init(KNumbers *v) { memset(v, 0, sizeof *v); }
void numbers_free(KNumbers *v) { PyMem_Free(v->items); memset(v, 0, sizeof *v); }
int numbers_find(const char *s, Py_ssize_t n, KNumbers *out) { return K_FALLBACK; }
int number_candidates(const KNumber *num, double out[6]) { out[0] = num->value; return 1; }
int number_close(double value, double target, int decimals, double rel, double abs_tol) { return 0; }
void pool_init(KPool *p) { memset(p, 0, sizeof *p); }
void pool_free(KPool *p) { memset(p, 0, sizeof *p); }
void pool_clear(KPool *p) { p->n = p->in_n = 0; }
int pool_add_text(KPool *p, const char *s, Py_ssize_t n, int step) { return K_FALLBACK; }
int pool_build(KPool *p) { return K_FALLBACK; }
int pool_find(const KPool *p, double target, int decimals) { return -1; }
int pool_derive(const KPool *p, double target, int decimals, int *i, int *j) { return 0; }
int number_at(const char *hay, Py_ssize_t n, const char *digits, Py_ssize_t m) { return 0; }
