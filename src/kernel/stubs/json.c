/* json.c: stub until implemented (see kernel.h). */
#include "kernel.h"
PyObject *kdebug_json(PyObject *self, PyObject *arg) { return Py_BuildValue("(s)", "fallback"); }
PyObject *kdebug_json_equal(PyObject *self, PyObject *args) { Py_RETURN_NONE; }
