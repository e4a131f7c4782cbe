#!/bin/sh
# The image's auditwheel, run by a native Python (manywheel, cross-compilers = "auto"): on an
# emulated target, writes BIN/auditwheel, which runs the image's own auditwheel script with its
# own libraries (the folders its interpreter imports from, native-paths.sh) under the packed
# native interpreter acting for the target's machine. Exits non-zero, having said why, where
# that cannot be done: auditwheel is then run as it is, under emulation. Prints one line
# either way.
# Arguments: the native Python (bin/python of the pack), BIN, the target's machine, the folder
# holding native-paths.sh and native-check.py.
set -u
native=$1 bin=$2 machine=$3 inbox=$4
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
found=$(sh "$inbox/native-paths.sh" "$native" "$inbox/native-check.py" "$interp" auditwheel \
  auditwheel.main auditwheel.main_repair auditwheel.repair auditwheel.wheel_abi) \
  || emulated "$real: $found"
paths=${found%%"
"*}
version=${found#*"
"}
mkdir -p "$bin" || emulated "cannot make $bin"
cat > "$bin/auditwheel" <<SHIM
#!/bin/sh
# manywheel: $real (auditwheel $version), run by a native Python acting for $machine
PYTHONHOME='' PYTHONPATH='$paths' exec '$native' -s '${native%/bin/python}/act-for.py' $machine '$real' "\$@"
SHIM
chmod 755 "$bin/auditwheel"
say "$real (auditwheel $version) runs natively: $("$native" -c 'import platform; print(platform.machine(), "Python", platform.python_version())'), acting for $machine"
