#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <zstd.h>

#ifndef MW_GREETING
#define MW_GREETING unset
#endif
#define MW_STR2(x) #x
#define MW_STR(x) MW_STR2(x)

static PyObject *zstd_version(PyObject *self, PyObject *args) {
    return PyLong_FromUnsignedLong(ZSTD_versionNumber());
}

static PyObject *greeting(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(MW_STR(MW_GREETING));
}

static PyMethodDef methods[] = {
    {"zstd_version", zstd_version, METH_NOARGS, "libzstd's version number."},
    {"greeting", greeting, METH_NOARGS, "The MW_GREETING the build was given."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_zstd", NULL, -1, methods};

PyMODINIT_FUNC PyInit__zstd(void) { return PyModule_Create(&module); }
