#!/usr/bin/env bash
# Runs inside the fixture rootfs (chroot): manylinux-style interpreter layout and tools.
set -euo pipefail
# The Debian archive reachable here may serve a snapshot whose Release files are past their
# Valid-Until date; apt in the image must still accept them.
echo 'Acquire::Check-Valid-Until "false";' > /etc/apt/apt.conf.d/99manywheel-fixture
for v in 3.13 3.14 3.15; do
  tag=cp${v/./}
  dest=/opt/python/$tag-$tag
  "python$v" -m venv "$dest"
  "$dest/bin/python" -m pip install --quiet --upgrade pip build
done
# auditwheel and uv in their own venv, linked on PATH, as manylinux does.
python3.13 -m venv /opt/_internal/tools
/opt/_internal/tools/bin/python -m pip install --quiet auditwheel uv
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
