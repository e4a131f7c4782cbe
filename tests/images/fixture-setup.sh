#!/usr/bin/env bash
# Runs inside the fixture rootfs (chroot): manylinux-style interpreter layout and tools.
set -euo pipefail
for v in 3.13 3.14 3.15; do
  tag=cp${v/./}
  dest=/opt/python/$tag-$tag
  "python$v" -m venv "$dest"
  "$dest/bin/python" -m pip install --quiet --upgrade pip build
done
# auditwheel in its own venv, linked on PATH, as manylinux does.
python3.13 -m venv /opt/_internal/tools
/opt/_internal/tools/bin/python -m pip install --quiet auditwheel
ln -sf /opt/_internal/tools/bin/auditwheel /usr/local/bin/auditwheel
auditwheel --version
patchelf --version
gfortran --version | head -n1
