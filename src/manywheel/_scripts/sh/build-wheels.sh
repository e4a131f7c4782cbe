#!/usr/bin/env bash
# Written by `manywheel export docker`. Builds every target one after the other in its own
# container from the image the Dockerfile beside this script describes (with several images:
# the Dockerfile of images/<platform>/, run with that platform), checks that each target left
# exactly one wheel, and only then moves the wheels into the output folder. Containers and the
# images are removed at the end, on failure and on Ctrl-C too.
#
# usage: bash build-wheels.sh [PROJECT_DIR [OUTPUT_DIR]]     (ENGINE=podman to use podman)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
default_project="$here"/__PROJECT_REL__
project=$(cd "${1:-$default_project}" && pwd)
output=${2:-__OUTPUT__}
engine=${ENGINE:-docker}
run="$(date +%Y%m%d-%H%M%S)-$$"
containers=()
images=()
__CHECK_SECRETS__mkdir -p "$output"
staging=$(mktemp -d "$output/.manywheel-export-XXXXXX")
# The project goes into each container as a copy without what belongs to the host, as
# manywheel build copies it: caches and environments, VCS metadata (unless the version is
# computed from it), the `exclude` globs, the output folder, this export folder.
excludes=(__EXCLUDED__)
for dir in "$output" "$here"__OWN_DIRS__; do
  rel=$(realpath -m --relative-to="$project" "$dir")
  case $rel in .|..|../*|/*) ;; *) excludes+=(--no-wildcards "--exclude=./$rel") ;; esac
done

cleanup() {
  rc=$?
  trap - EXIT INT TERM
  for c in "${containers[@]+"${containers[@]}"}"; do "$engine" rm -f "$c" >/dev/null 2>&1 || true; done
  for i in "${images[@]+"${images[@]}"}"; do "$engine" rmi -f "$i" >/dev/null 2>&1 || true; done
  rm -rf "$staging"
  if [ "$rc" -ne 0 ]; then echo "build-wheels.sh: failed (exit $rc); $output is unchanged" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build_image() {  # FOLDER [PLATFORM]: the image of the Dockerfile in FOLDER, for PLATFORM
  local tag="localhost/manywheel-export:$run-${#images[@]}"
  images+=("$tag")
  "$engine" build ${2:+--platform "$2"} --tag "$tag" "$here/$1"
}

build_target() {  # IDENTIFIER IMAGE-NUMBER [PLATFORM [PREFIX]]
  local id=$1 image=${images[$2]} platform=${3:-} name="manywheel-$run-$1"
  local prefix=()  # linux32 for a 32-bit platform: uname -m must say i686
  if [ -n "${4:-}" ]; then prefix=("$4"); fi
  containers+=("$name")
  # A container that idles until removed; the build runs in it with exec. Its idle process
  # ignores SIGTERM, so no stop grace period: podman's rm -f would wait 10 s for each.
  "$engine" run --detach --stop-timeout 0 ${platform:+--platform "$platform"} --name "$name" \
    --label manywheel.export="$run" "$image" "${prefix[@]+"${prefix[@]}"}" tail -f /dev/null >/dev/null
  # The project goes in as a copy (never a writable bind mount), unpacked by the container's
  # tar: `podman cp -` would leave each stream it read in a temporary file of the host's.
  tar -C "$project" "${excludes[@]}" -cf - . | "$engine" exec -i "$name" \
    sh -c 'mkdir -p "$1" && tar -xf - -C "$1" --no-same-owner' sh __PROJECT__
  tar -C "$here/targets/$id" -cf - . | "$engine" exec -i "$name" tar -xf - -C / --no-same-owner
  echo "== $id"
  "$engine" exec __SECRET_NAMES__"$name" "${prefix[@]+"${prefix[@]}"}" bash __IN__/build.sh
  mkdir -p "$staging/$id"
  "$engine" cp "$name:__OUT__/." "$staging/$id/"
  local wheels=("$staging/$id"/*.whl)
  if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
    echo "build-wheels.sh: $id: expected exactly one wheel, found ${#wheels[@]}" >&2
    exit 1
  fi
  "$engine" rm -f "$name" >/dev/null
}

__BUILD_IMAGES__
__BUILD_TARGETS__
# Every target built: move the wheels in (a rename in the same folder each, never half a file).
for wheel in "$staging"/*/*.whl; do
  mv -f "$wheel" "$output/"
  echo "wrote $output/${wheel##*/}"
done
