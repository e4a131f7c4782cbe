#!/usr/bin/env bash
# Make the fixture rootfs for an architecture this machine runs only under QEMU user emulation
# (arm64) in WORK/target; build-fixture.sh calls it, passes the packages and tars the result.
#
# Everything the target's binaries do is emulated, 50 to 100 times slower than native, so what
# costs most runs natively here, with the same result:
# - mmdebstrap instead of debootstrap: apt resolves and downloads natively, only dpkg and the
#   maintainer scripts run emulated.
# - The byte-compilation of the python3.X packages' postinsts (py_compile.py over the standard
#   library, 75 s per version emulated) is only recorded during the bootstrap, by a stand-in
#   py_compile.py (a dpkg diversion, removed afterwards), and then done by a native build of the
#   very same CPython: WORK is its root, extracted from the host architecture's archive, with the
#   target inside it. Were the two builds not the same, it would be done emulated.
# - The wheels of pip, build, auditwheel and uv are chosen and downloaded for the target platform
#   by the host's pip; fixture-setup.sh installs them with `installer` (not the resolver of an
#   emulated pip) and without bytecode, which the native CPython compiles as pip would have.
#
# Usage: emulated-rootfs.sh ARCH WORK MIRROR PACKAGE...   (WORK: an empty folder)
# Env:   PIP_INDEX_URL (optional): the package index for the wheels
set -euo pipefail

# mmdebstrap's essential hook (before the packages beyond the essential ones are installed): the
# stand-in py_compile.py of each CPython, which only records the files it is asked to compile.
if [ "${1:-}" = defer-py-compile ]; then
  root=$2
  mkdir -p "$root/var/lib/manywheel-fixture"
  for v in $FIXTURE_PY_VERSIONS; do
    chroot "$root" dpkg-divert --quiet --local --rename \
      --divert "/usr/lib/python$v/py_compile.py.distrib" --add "/usr/lib/python$v/py_compile.py"
    mkdir -p "$root/usr/lib/python$v"
    cat > "$root/usr/lib/python$v/py_compile.py" <<'PY'
# Stand-in while tests/images/emulated-rootfs.sh bootstraps this image under emulation: it records
# what the packages byte-compile, which is compiled natively afterwards.
import sys

if __name__ == "__main__":
    if len(sys.argv) < 2 or "-" in sys.argv[1:]:
        sys.exit("py_compile stand-in: only file arguments are supported")
    v = sys.version_info
    name = f"/var/lib/manywheel-fixture/py_compile-{v[0]}.{v[1]}-{sys.flags.optimize}.list"
    with open(name, "a") as out:
        out.writelines(f"{f}\n" for f in sys.argv[1:])
else:
    with open(__file__ + ".distrib") as real:
        exec(compile(real.read(), __file__ + ".distrib", "exec"))
PY
  done
  exit 0
fi

arch=$1 work=$2 mirror=$3
shift 3
packages=("$@")
here=$(cd "$(dirname "$0")" && pwd)
root=$work/target
versions=$(printf '%s\n' "${packages[@]}" | sed -n 's/^python\(3\.[0-9]*\)$/\1/p' | xargs)
case $arch in
  arm64) machine=aarch64 ;;
  *) echo "emulated-rootfs: no wheel platform known for $arch" >&2; exit 1 ;;
esac
apt_opt='Acquire::Check-Valid-Until "false"'  # as fixture-setup.sh says
clean_env=(/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root)

# The native CPythons: their packages extracted (not installed: nothing runs), plus the merged-/usr
# links the extraction leaves out.
chmod 755 "$work"  # apt downloads as the _apt user
py_minimal=()
for v in $versions; do py_minimal+=("python$v-minimal"); done
( IFS=,; mmdebstrap --quiet --variant=extract --aptopt="$apt_opt" --include="${py_minimal[*]}" \
    forky "$work" "$mirror" )
for d in bin lib lib64 sbin; do
  [ -e "$work/$d" ] || [ ! -d "$work/usr/$d" ] || ln -s "usr/$d" "$work/$d"
done

mkdir "$root"
( IFS=,; FIXTURE_PY_VERSIONS=$versions mmdebstrap --variant=minbase --arch="$arch" \
    --aptopt="$apt_opt" --include="${packages[*]}" \
    --essential-hook="bash $(printf %q "$here/emulated-rootfs.sh") defer-py-compile \"\$1\"" \
    forky "$root" "$mirror" )
rm -f "$root/etc/apt/apt.conf.d/99mmdebstrap"  # fixture-setup.sh writes the same option
for v in $versions; do
  rm "$root/usr/lib/python$v/py_compile.py"
  chroot "$root" dpkg-divert --quiet --rename --remove "/usr/lib/python$v/py_compile.py"
done

# compile VERSION LEVEL: byte-compiles the files and folders named on stdin (paths in the target)
# with the target's pythonVERSION, as its own compileall would: natively when the native CPython is
# the same build, else emulated.
probe='import sys, importlib.util; print(sys.version, importlib.util.MAGIC_NUMBER)'
compile() {
  local v=$1 level=$2 native target
  native=$("${clean_env[@]}" chroot "$work" "python$v" -c "$probe")
  target=$("${clean_env[@]}" chroot "$root" "python$v" -c "$probe")
  if [ "$native" = "$target" ]; then
    sed 's|^|/target|' | "${clean_env[@]}" chroot "$work" "python$v" -E -S -m compileall -q \
      -o "$level" -s /target -p / -i -
  else
    echo "emulated-rootfs: the native python$v is not the target's, compiling emulated (slow)" >&2
    "${clean_env[@]}" chroot "$root" "python$v" -E -S -m compileall -q -o "$level" -i -
  fi
}
for list in "$root"/var/lib/manywheel-fixture/py_compile-*.list; do
  [ -e "$list" ] || continue
  name=${list##*/py_compile-}
  name=${name%.list}  # VERSION-LEVEL
  compile "${name%-*}" "${name##*-}" < "$list"
done
rm -rf "$root/var/lib/manywheel-fixture"

# The wheels, for the target's CPythons and glibc, chosen and downloaded by the host's pip.
glibc=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' libc6)  # e.g. 2.43-7
glibc=${glibc#2.}
python3 -m venv "$work/host-pip"
pip=(/usr/bin/env -i "PATH=$PATH" "HOME=$HOME" PIP_CONFIG_FILE=/dev/null
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
  ${PIP_INDEX_URL:+"PIP_INDEX_URL=$PIP_INDEX_URL"} "$work/host-pip/bin/python" -m pip)
platforms=()  # as the target's pip takes them: manylinux_2_<its glibc> down to manylinux_2_17
for ((minor = ${glibc%%[!0-9]*}; minor >= 17; minor--)); do
  platforms+=(--platform "manylinux_2_${minor}_$machine")
done
platforms+=(--platform "linux_$machine")
wheels=$root/tmp/wheels
download() {  # FOLDER PYTHON_VERSION REQUIREMENT...
  local folder=$1 v=$2
  shift 2
  "${pip[@]}" download --quiet --dest "$wheels/$folder" --only-binary=:all: \
    --implementation cp --python-version "$v" --abi "cp${v/./}" --abi abi3 --abi none \
    "${platforms[@]}" "$@"
}
for v in $versions; do download "cp${v/./}" "$v" pip build; done
download tools 3.13 pip auditwheel uv  # the tools venv of fixture-setup.sh
download . 3.13 installer

cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cp "$here/fixture-setup.sh" "$root/tmp/fixture-setup.sh"
"${clean_env[@]}" FIXTURE_WHEELS=/tmp/wheels chroot "$root" bash /tmp/fixture-setup.sh
rm -rf "$root/tmp/fixture-setup.sh" "$wheels"

# The environments' bytecode, as pip would have compiled it; then what the tests use of them.
for site in "$root"/opt/python/*/lib/python3.*/site-packages \
  "$root"/opt/_internal/*/lib/python3.*/site-packages; do
  v=${site%/site-packages}
  echo "${site#"$root"}" | compile "${v##*/python}" 0
done
# shellcheck disable=SC2016  # expanded in the target
"${clean_env[@]}" chroot "$root" sh -euc '
  for py in /opt/_internal/tools/bin/python /opt/python/*/bin/python; do
    "$py" -m pip check >/dev/null  # the host chose the wheels: is each venv complete?
  done
  for py in /opt/python/*/bin/python; do "$py" -m build --version; done'
