/* json.c: stub until implemented (see kernel.h). */
#include "kernel.h"
PyObject *kdebug_json(PyObject *self, PyObject *arg) { return Py_BuildValue("(s)", "fallback"); }
PyObject *kdebug_json_equal(PyObject *self, PyObject *args) { Py_RETURN_NONE; }
void jdoc_init(JDoc *d) { memset(d, 0, sizeof *d); }
void jdoc_free(JDoc *d) { PyMem_Free(d->vals); PyMem_Free(d->buf); memset(d, 0, sizeof *d); }
int jdoc_reset(JDoc *d, size_t bytes) { return K_OK; }
int json_parse(JDoc *d, const char *p, size_t n, uint32_t *root) { return K_FALLBACK; }
JVal *json_get(JDoc *d, const JVal *obj, const char *key) { return NULL; }
int json_has_duplicate_keys(JDoc *d, const JVal *obj) { return 1; }
int json_equal(JDoc *d, const JVal *a, const JVal *b) { return 0; }
PyObject *json_to_py(JDoc *d, const JVal *v) { PyErr_SetString(PyExc_NotImplementedError, "stub"); return NULL; }
