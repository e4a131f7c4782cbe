set -eu
py=$1 dest=$2
"$py" -m venv --without-pip "$dest"
[ "${3:-pip}" = no-pip ] && exit 0
site=$("$dest/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
if src=$("$py" -c 'import os, pip; print(os.path.dirname(os.path.dirname(pip.__file__)))' 2>/dev/null) &&
  [ -d "$src/pip" ] && ls -d "$src"/pip-*.dist-info >/dev/null 2>&1; then
  (cd "$src" && tar -cf - pip pip-*.dist-info) | tar -xf - -C "$site"
  minor=$("$dest/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  for name in pip pip3 "pip$minor"; do
    printf '#!%s\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n' \
      "$dest/bin/python" > "$dest/bin/$name"
    chmod +x "$dest/bin/$name"
  done
else
  "$dest/bin/python" -m ensurepip --default-pip >/dev/null
fi
