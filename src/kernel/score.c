/* score.c: the Plan type and score_into (stub until implemented). */
#include "kernel.h"
static PyTypeObject PlanType = {PyVarObject_HEAD_INIT(NULL, 0) .tp_name = "rubricate._kernel.Plan",
                                .tp_basicsize = sizeof(PyObject), .tp_flags = Py_TPFLAGS_DEFAULT,
                                .tp_new = PyType_GenericNew};
PyObject *kscore_plan_type(void) {
    if (PyType_Ready(&PlanType) < 0) return NULL;
    Py_INCREF(&PlanType);
    return (PyObject *)&PlanType;
}
PyObject *kscore_score_into(PyObject *self, PyObject *args) { return PyLong_FromLong(-1); }
