#include <Python.h>
#include <unistd.h>

/* getpid: a call into the C library, so auditwheel sees which libc the extension needs. */
static PyObject *greeting(PyObject *self, PyObject *args) {
    return getpid() > 0 ? PyUnicode_FromString("hello from the stable ABI") : NULL;
}

static PyMethodDef methods[] = {{"greeting", greeting, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
