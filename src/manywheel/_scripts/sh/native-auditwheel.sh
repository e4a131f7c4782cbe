#!/bin/sh
# The image's auditwheel, run by a native Python (manywheel, cross-compilers = "auto"): on an
# emulated target, writes BIN/auditwheel, which runs the image's own auditwheel script with its
# own libraries (the folders its interpreter imports from) under the packed native interpreter
# acting for the target's machine. Exits non-zero, having said why, where that cannot be done:
# auditwheel is then run as it is, under emulation. Prints one line either way.
# Arguments: the native Python (bin/python of the pack), BIN, the target's machine, the check
# script (native-auditwheel-check.py).
set -u
native=$1 bin=$2 machine=$3 check=$4
say() { echo "manywheel: auditwheel: $*"; }
emulated() { say "$1: it runs emulated"; exit 1; }
real=$(command -v auditwheel 2>/dev/null) || real=
case $real in
/*) ;;
*) emulated "not on PATH as a file" ;;
esac
IFS= read -r line < "$real" || line=
case $line in
"#!/"*) interp=${line#??} ;;
*) emulated "$real is not a script whose first line names its interpreter" ;;
esac
interp=${interp%"${interp##*[! ]}"}  # trailing blanks
case $interp in
*[[:space:]]*) emulated "$real's interpreter line has arguments ($interp)" ;;
esac
case $interp$real in
*"'"*) emulated "a path has a quote in it ($interp, $real)" ;;
esac
# Where the image's interpreter imports the tool from. A venv's (manylinux's pipx venvs, most
# images' tool venvs): its one site-packages folder, read off the disk. Anything else (a system
# interpreter, a venv that sees the system's packages, a .pth file that may add folders): its
# sys.path without the script's folder and the standard library, asked of the interpreter
# itself (a second of QEMU).
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
print(":".join(p for p in sys.path[1:] if p and p not in std and not p.endswith((".zip", "lib-dynload"))))' 2>&1) \
    || emulated "$interp could not list its import folders ($paths)"
fi
case $paths in
*"'"*) emulated "a folder of $interp's has a quote in it" ;;
"") emulated "$interp imports from its standard library only" ;;
esac
# Can the native interpreter run that code? Every distribution there must allow its version,
# and auditwheel's modules must import (no compiled module of the target's in the way).
version=$(PYTHONHOME='' PYTHONPATH=$paths "$native" -s "$check" 2>&1) \
  || emulated "the native Python cannot run $real: $version"
mkdir -p "$bin" || emulated "cannot make $bin"
cat > "$bin/auditwheel" <<SHIM
#!/bin/sh
# manywheel: $real (auditwheel $version), run by a native Python acting for $machine
PYTHONHOME='' PYTHONPATH='$paths' exec '$native' -s '${native%/bin/python}/act-for.py' $machine '$real' "\$@"
SHIM
chmod 755 "$bin/auditwheel"
say "$real (auditwheel $version) runs natively: $("$native" -c 'import platform; print(platform.machine(), "Python", platform.python_version())'), acting for $machine"
