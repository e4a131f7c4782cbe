#!/bin/sh
self=$(readlink -f "$0")
IFS=:
for d in $PATH; do
  if [ -x "$d/ninja" ] && [ "$(readlink -f "$d/ninja")" != "$self" ]; then
    exec "$d/ninja" -j "${MANYWHEEL_JOBS:-1}" "$@"
  fi
done
echo "manywheel: ninja not found on PATH" >&2
exit 127
