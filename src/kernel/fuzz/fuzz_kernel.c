/* libFuzzer harness of the native kernel (built with AddressSanitizer and UndefinedBehaviorSanitizer
 * by tests/fuzz/build.sh; run by tests/fuzz/test_fuzz_kernel.py and tests/fuzz/run.sh).
 *
 * The kernel's C files are compiled into this program with coverage instrumentation; Python is
 * embedded, the instrumented module is put in sys.modules as `rubricate._kernel` (so rubricate's
 * scoring code uses it), and each input goes to tests/fuzz/kernel_target.py's `one(data)`: the kernel's
 * Plan.score_chunk on the input's JSONL lines against the Python path, rows compared. A sanitizer
 * report, a Python exception or a difference of verdicts aborts: a crash for libFuzzer.
 *
 * Only entry points Python sees are called (Plan, score_chunk, through rubricate.scoring._native), so
 * the harness does not depend on the kernel's internal functions.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

PyMODINIT_FUNC PyInit__kernel(void);

static PyObject *target;

static void fail(const char *what) {
    fprintf(stderr, "fuzz_kernel: %s\n", what);
    if (PyErr_Occurred()) PyErr_Print();
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    Py_InitializeEx(0);
    PyObject *kernel = PyInit__kernel();
    if (kernel == NULL) fail("cannot create the kernel module");
    PyObject *modules = PyImport_GetModuleDict();
    if (PyDict_SetItemString(modules, "rubricate._kernel", kernel) < 0) fail("cannot register the kernel");
    PyObject *mod = PyImport_ImportModule("kernel_target");
    if (mod == NULL) fail("cannot import kernel_target (PYTHONPATH must hold tests/fuzz, src and site-packages)");
    PyObject *native = PyImport_ImportModule("rubricate.scoring._native");
    if (native == NULL) fail("cannot import rubricate.scoring._native");
    PyObject *used = PyObject_GetAttrString(native, "_kernel");
    if (used != kernel) fail("rubricate.scoring._native did not take the instrumented kernel");
    Py_XDECREF(used);
    Py_DECREF(native);
    target = PyObject_GetAttrString(mod, "one");
    if (target == NULL) fail("kernel_target has no one()");
    Py_DECREF(mod);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    PyObject *arg = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)size);
    if (arg == NULL) fail("out of memory");
    PyObject *res = PyObject_CallOneArg(target, arg);
    Py_DECREF(arg);
    if (res == NULL) fail("the input failed (a Python exception, or the kernel and Python disagree)");
    Py_DECREF(res);
    return 0;
}
