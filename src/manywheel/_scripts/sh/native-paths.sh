#!/bin/sh
# Can the native Python (manywheel, cross-compilers = "auto") run a tool installed for the
# image's interpreter INTERP? Prints two lines, the folders INTERP imports the tool from
# (':'-separated) and the version of its distribution DIST, if every distribution there allows
# the native Python's version and the MODULEs import with them (native-check.py); else one
# line, the reason, and exits 1.
# Arguments: the native Python, native-check.py, INTERP, DIST, MODULE...
set -u
native=$1 check=$2 interp=$3
shift 3
case $interp in
/*) ;;
*) echo "its interpreter is not a path ($interp)"; exit 1 ;;
esac
# A venv's (manylinux's pipx venvs, most images' tool venvs, the build venv): its one
# site-packages folder, read off the disk. Anything else (a system interpreter, a venv that
# sees the system's packages, a .pth file that may add folders): its sys.path without the
# script's folder and the standard library, asked of the interpreter itself (a second of QEMU).
paths=
venv=${interp%/bin/*}
if [ "$venv" != "$interp" ] && [ -f "$venv/pyvenv.cfg" ] \
  && ! grep -qi '^include-system-site-packages *= *true' "$venv/pyvenv.cfg"; then
  for site in "$venv"/lib/python3*/site-packages; do
    if [ -z "$paths" ] && [ -d "$site" ]; then paths=$site; else paths=; break; fi
  done
  for pth in "${paths:-/nonexistent}"/*.pth; do
    if [ -e "$pth" ]; then paths=; fi
  done
fi
if [ -z "$paths" ]; then
  paths=$("$interp" -s -c 'import sys, sysconfig
std = {sysconfig.get_path(n) for n in ("stdlib", "platstdlib")}
print(":".join(p for p in sys.path[1:] if p and p not in std and not p.endswith((".zip", "lib-dynload"))))' 2>&1) || {
    echo "$interp could not list its import folders ($paths)"
    exit 1
  }
fi
case $paths in
*"'"*) echo "a folder of $interp's has a quote in it"; exit 1 ;;
"") echo "$interp imports from its standard library only"; exit 1 ;;
esac
version=$(PYTHONHOME='' PYTHONPATH=$paths "$native" -s "$check" "$@" 2>&1) || {
  echo "the native Python cannot run it: $version"
  exit 1
}
printf '%s\n%s\n' "$paths" "$version"
