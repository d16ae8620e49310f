/* numbers.c: stub until implemented (see kernel.h). */
#include "kernel.h"
PyObject *kdebug_numbers(PyObject *self, PyObject *arg) { Py_RETURN_NONE; }
PyObject *kdebug_pool(PyObject *self, PyObject *args) { Py_RETURN_NONE; }
PyObject *kdebug_number_at(PyObject *self, PyObject *args) { Py_RETURN_NONE; }
