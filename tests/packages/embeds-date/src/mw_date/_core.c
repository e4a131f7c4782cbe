#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The time of the build, as the compiler sets it: with SOURCE_DATE_EPOCH, GCC takes it
   from there; without it, each build embeds its own. */
static PyObject *built(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(__DATE__ " " __TIME__);
}

static PyMethodDef methods[] = {
    {"built", built, METH_NOARGS, "The compiler's __DATE__ and __TIME__."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
