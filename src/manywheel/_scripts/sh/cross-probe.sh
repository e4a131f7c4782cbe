#!/bin/sh
# The cross compilers' probe (manywheel, cross-compilers = "auto"): compile and link a small C
# shared library with the wrappers as setuptools would, with the target interpreter's own
# compile and link flags and the build's, and compile (not link) a small C++ file, in a folder
# of its own. The C++ file is not linked: the first C++ link makes zig build libc++ for the
# target (about a minute), which a C project never needs; a C++ project pays it at its first
# link, and zig's cache keeps it. Any failure (exit non-zero) makes the target build with the
# image's compilers.
# Arguments: the C wrapper, the C++ wrapper, a folder to work in.
set -eu
cc=$1 cxx=$2 dir=$3
mkdir -p "$dir"
cd "$dir"
python - > flags <<'PY'
import sysconfig
v = sysconfig.get_config_var
print(sysconfig.get_paths()["include"])
print(v("CFLAGS") or "")
print(" ".join((v("LDSHARED") or "x -shared").split()[1:]))
PY
{ read -r include; read -r py_cflags; read -r py_ldflags; } < flags
cat > probe.c <<'C'
#include <Python.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
double mw_probe(const char *s) { return sqrt(strtod(s, NULL)) + printf("%s", s); }
C
cat > probe.cc <<'CXX'
#include <stdexcept>
#include <string>
#include <vector>
int mw_probe_cxx(int n) {
    std::vector<std::string> v(n, "x");
    if (n < 0) throw std::runtime_error("negative");
    return static_cast<int>(v.size());
}
CXX
set -x
# shellcheck disable=SC2086 # the flags are several words, as a build passes them
"$cc" $py_cflags ${CPPFLAGS:-} ${CFLAGS:-} -I"$include" -fPIC -c probe.c -o probe.o
# shellcheck disable=SC2086
"$cc" $py_ldflags ${LDFLAGS:-} probe.o -o libprobe.so -lm
# shellcheck disable=SC2086
"$cxx" ${CPPFLAGS:-} ${CXXFLAGS:-} -fPIC -c probe.cc -o probe-cxx.o
