/* episode.c: stub until implemented (see kernel.h). */
#include "kernel.h"
void episode_init(KEpisode *ep) { memset(ep, 0, sizeof *ep); }
void episode_free(KEpisode *ep) { Py_CLEAR(ep->metadata); }
int episode_from_json(KEpisode *ep, const char *p, size_t n) { return K_FALLBACK; }
PyObject *kdebug_episode(PyObject *self, PyObject *arg) { return PyUnicode_FromString("fallback"); }
