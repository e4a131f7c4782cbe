# What an image (or this machine) offers: platform, package manager, shell, CPythons.
# POSIX sh: runs in any manylinux/musllinux/Debian image. $mw_discover_py is the text of
# discover.py (manywheel sets it on the line before this script).
# shellcheck disable=SC2154
arch=$(uname -m)
if [ -e /etc/alpine-release ] || (ldd --version 2>&1 | grep -qi musl); then libc=musllinux; else libc=manylinux; fi
echo "platform ${libc}_${arch}"
echo "auditwheel_plat ${AUDITWHEEL_PLAT:-}"
for m in dnf yum apt-get apk; do
  if command -v "$m" >/dev/null 2>&1; then echo "pkgmgr $m"; break; fi
done
if command -v bash >/dev/null 2>&1; then echo "shell bash"; else echo "shell sh"; fi
if uv=$(uv --version 2>/dev/null); then
  uv=${uv#uv }
  echo "uv ${uv%% *}"
fi
found=0
for d in /opt/python/*; do
  [ -x "$d/bin/python" ] || continue
  "$d/bin/python" -c "$mw_discover_py" python "$d" 2>/dev/null && found=1
done
# No manylinux-style /opt/python: the python3.X interpreters on PATH that can make a venv.
if [ "$found" = 0 ]; then
  old_ifs=$IFS; IFS=:; set -f
  for d in $PATH; do
    set +f
    for exe in "$d"/python3.[0-9] "$d"/python3.[0-9][0-9] "$d"/python3.[0-9]t "$d"/python3.[0-9][0-9]t; do
      [ -x "$exe" ] || continue
      "$exe" -c "$mw_discover_py" interpreter "$exe" 2>/dev/null || true
    done
    set -f
  done
  set +f; IFS=$old_ifs
fi
