/* mw_cext._core: a plain (non limited-API) CPython extension module. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Set at compile time to check that the build environment reached the compiler:
 * CFLAGS=-DMW_GREETING=from-cflags (a bare token) or a string literal,
 * CFLAGS='-DMW_GREETING=\"from-cflags\"'. Both are stringified below and a string
 * literal's quotes are dropped at run time, so both forms return the bare text. */
#ifndef MW_GREETING
#define MW_GREETING hello
#endif
#define MW_STR_(x) #x
#define MW_STR(x) MW_STR_(x)

static PyObject *
mw_add(PyObject *self, PyObject *args)
{
    long long a, b;
    if (!PyArg_ParseTuple(args, "LL:add", &a, &b)) {
        return NULL;
    }
    return PyLong_FromLongLong(a + b);
}

static PyObject *
mw_compiled_with(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    const char *text = MW_STR(MW_GREETING);
    Py_ssize_t len = (Py_ssize_t)strlen(text);
    if (len >= 2 && text[0] == '"' && text[len - 1] == '"') {
        /* A string literal was given: return what is between its quotes. */
        return PyUnicode_FromStringAndSize(text + 1, len - 2);
    }
    return PyUnicode_FromStringAndSize(text, len);
}

static PyMethodDef mw_methods[] = {
    {"add", mw_add, METH_VARARGS, "add(a, b) -> int: the sum of two integers."},
    {"compiled_with", mw_compiled_with, METH_NOARGS,
     "compiled_with() -> str: the MW_GREETING macro the module was compiled with."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef mw_module = {
    PyModuleDef_HEAD_INIT,
    "mw_cext._core",
    "Tiny C extension used by manywheel's examples.",
    -1,
    mw_methods,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModule_Create(&mw_module);
}
