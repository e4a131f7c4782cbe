#!/usr/bin/env bash
# Runs inside the fixture rootfs (chroot): manylinux-style interpreter layout and tools.
#
# FIXTURE_WHEELS (set for an emulated architecture, see emulated-rootfs.sh): a folder with
# installer-*.whl, and cpXY/ and tools/ holding the wheels of each venv, pip among them, chosen and
# downloaded for this platform on the host. They are installed with `installer` rather than pip,
# whose resolver is slow under emulation, and without bytecode, which the caller compiles.
set -euo pipefail
# The Debian archive reachable here may serve a snapshot whose Release files are past their
# Valid-Until date; apt in the image must still accept them.
echo 'Acquire::Check-Valid-Until "false";' > /etc/apt/apt.conf.d/99manywheel-fixture
wheels=${FIXTURE_WHEELS:-}

# venv_from_wheels VERSION DEST FOLDER: the venv pythonVERSION -m venv makes, with FOLDER's wheels.
venv_from_wheels() {
  local v=$1 dest=$2 folder=$3 installer
  "python$v" -m venv --without-pip "$dest"
  installer=$(echo "$wheels"/installer-*.whl)
  PYTHONPATH=$installer "$dest/bin/python" -m installer --no-compile-bytecode "$folder"/*.whl
  cp -p "$dest/bin/pip3" "$dest/bin/pip$v"  # what pip adds when it installs itself
}

for v in 3.13 3.14 3.15; do
  tag=cp${v/./}
  dest=/opt/python/$tag-$tag
  if [ -n "$wheels" ]; then
    venv_from_wheels "$v" "$dest" "$wheels/$tag"
    continue
  fi
  "python$v" -m venv "$dest"
  "$dest/bin/python" -m pip install --quiet --upgrade pip build
done
# Debian's PyPy, where installed, named as manylinux names its PyPys (pp311-pypy311_pp73): the
# tag comes from the interpreter (Debian forky's PyPy 8.0 is pp80).
if command -v pypy3 >/dev/null; then
  tag=$(pypy3 -c 'import sys; v, p = sys.version_info, sys.pypy_version_info; print(f"pp{v[0]}{v[1]}-pypy{v[0]}{v[1]}_pp{p[0]}{p[1]}")')
  pypy3 -m venv "/opt/python/$tag"
  "/opt/python/$tag/bin/python" -m pip install --quiet --upgrade pip build
  "/opt/python/$tag/bin/python" --version
fi
# auditwheel and uv in their own venv, linked on PATH, as manylinux does.
if [ -n "$wheels" ]; then
  venv_from_wheels 3.13 /opt/_internal/tools "$wheels/tools"
else
  python3.13 -m venv /opt/_internal/tools
  /opt/_internal/tools/bin/python -m pip install --quiet auditwheel uv
fi
ln -sf /opt/_internal/tools/bin/auditwheel /usr/local/bin/auditwheel
ln -sf /opt/_internal/tools/bin/uv /usr/local/bin/uv
auditwheel --version
uv --version
patchelf --version
gfortran --version | head -n1

# A real manylinux image's toolchain targets the glibc its auditwheel policy names. Debian forky's
# gcc runtime (libgfortran, libquadmath) needs glibc 2.43, newer than auditwheel's last policy,
# so the fixture gets a policy for its own glibc, as a manylinux_2_43 image would have.
/opt/_internal/tools/bin/python - <<'PY'
import json
import pathlib

import auditwheel.policy

path = pathlib.Path(auditwheel.policy.__file__).parent / "manylinux-policy.json"
policies = json.loads(path.read_text())
last = policies[-1]
major, minor = (int(x) for x in last["name"].split("_")[1:3])
for new_minor in range(minor + 1, 44):
    entry = json.loads(json.dumps(last))
    entry["name"] = f"manylinux_2_{new_minor}"
    entry["aliases"] = []
    entry["priority"] = last["priority"] - (new_minor - minor)
    for arch in entry["symbol_versions"].values():
        glibc = arch.get("GLIBC")
        if glibc is not None:
            glibc[:] = [v for v in glibc if v.startswith("2.")] + [
                f"2.{m}" for m in range(minor + 1, new_minor + 1)
            ] + [v for v in glibc if not v.startswith("2.")]
    policies.append(entry)
path.write_text(json.dumps(policies, indent=2))
print("auditwheel policies now end at", policies[-1]["name"])
PY
