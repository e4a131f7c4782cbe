missing=()
for name in __NAMES__; do [ -n "${!name+set}" ] || missing+=("$name"); done
if [ "${#missing[@]}" -ne 0 ]; then
  echo "build-wheels.sh: set ${missing[*]} in the environment: secret variables are passed to" \
    "the builds by name and never written into the exported files" >&2
  exit 2
fi
