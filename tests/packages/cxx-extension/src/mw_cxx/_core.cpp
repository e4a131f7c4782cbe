// mw_cxx._core: std::vector, std::sort, std::map, std::string and a C++ exception turned
// into a Python one, so that a wheel whose C++ runtime is broken cannot pass its test.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

static double median_of(std::vector<double> values) {
    if (values.empty()) throw std::invalid_argument("median of an empty sequence");
    std::sort(values.begin(), values.end());
    size_t n = values.size();
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

static PyObject *mw_median(PyObject *, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "median() takes a sequence of numbers");
    if (seq == nullptr) return nullptr;
    std::vector<double> values;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        double v = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return nullptr;
        }
        values.push_back(v);
    }
    Py_DECREF(seq);
    try {
        return PyFloat_FromDouble(median_of(values));
    } catch (const std::exception &e) {
        PyErr_SetString(PyExc_ValueError, e.what());
        return nullptr;
    }
}

static PyObject *mw_word_counts(PyObject *, PyObject *arg) {
    const char *text = PyUnicode_AsUTF8(arg);
    if (text == nullptr) return nullptr;
    std::map<std::string, long> counts;
    std::istringstream words{std::string(text)};
    for (std::string w; words >> w;) counts[w]++;
    PyObject *out = PyDict_New();
    if (out == nullptr) return nullptr;
    for (const auto &kv : counts) {
        PyObject *n = PyLong_FromLong(kv.second);
        if (n == nullptr || PyDict_SetItemString(out, kv.first.c_str(), n) < 0) {
            Py_XDECREF(n);
            Py_DECREF(out);
            return nullptr;
        }
        Py_DECREF(n);
    }
    return out;
}

static PyMethodDef mw_methods[] = {
    {"median", mw_median, METH_O, "median(numbers) -> float (ValueError when empty)."},
    {"word_counts", mw_word_counts, METH_O, "word_counts(text) -> {word: count}."},
    {nullptr, nullptr, 0, nullptr},
};

static struct PyModuleDef mw_module = {
    PyModuleDef_HEAD_INIT, "_core", "C++ standard library checks.", -1, mw_methods,
};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&mw_module); }
