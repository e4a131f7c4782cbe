#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <unistd.h>

#ifndef MW_GREETING
#define MW_GREETING unset
#endif
#define MW_STR2(x) #x
#define MW_STR(x) MW_STR2(x)

static PyObject *greeting(PyObject *self, PyObject *args) {
    /* getpid: a call into the C library, so that auditwheel sees which libc the extension
       needs (a PyPy extension that calls none is refused: "couldn't detect libc") */
    return getpid() > 0 ? PyUnicode_FromString(MW_STR(MW_GREETING)) : NULL;
}

static PyMethodDef methods[] = {{"greeting", greeting, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
