/* text.c: stub until implemented (see kernel.h). */
#include "kernel.h"
PyObject *kdebug_tables(PyObject *self, PyObject *arg) { Py_RETURN_NONE; }
PyObject *kdebug_looks_like_error(PyObject *self, PyObject *arg) { Py_RETURN_NONE; }
PyObject *kdebug_marked_answer(PyObject *self, PyObject *arg) { Py_RETURN_NONE; }
PyObject *kdebug_normal_text(PyObject *self, PyObject *arg) { Py_RETURN_NONE; }
