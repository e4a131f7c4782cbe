#!/usr/bin/env bash
# Build the manylinux-like fixture image used by the integration tests.
#
# A Debian forky rootfs made by debootstrap, with CPython 3.13, 3.14 and 3.15 laid out as
# manylinux does (/opt/python/cpXY-cpXY, each with pip and build), gcc/g++/gfortran,
# auditwheel, uv and patchelf on PATH, and the host CA bundle as the trust store.
#
# Usage: tests/images/build-fixture.sh [ENGINE ...]     (default: every engine that answers)
# Env:   MANYWHEEL_FIXTURE_IMAGE (default localhost/manywheel-fixture:forky)
#        MANYWHEEL_FIXTURE_CACHE (default ~/.cache/manywheel-fixture): keeps the rootfs tarball
#        DEBIAN_MIRROR (default: the first Debian archive URI in the host's apt sources)
set -euo pipefail

image=${MANYWHEEL_FIXTURE_IMAGE:-localhost/manywheel-fixture:forky}
cache=${MANYWHEEL_FIXTURE_CACHE:-$HOME/.cache/manywheel-fixture}
here=$(cd "$(dirname "$0")" && pwd)
recipe_hash=$(cat "$0" "$here/fixture-setup.sh" | sha256sum | cut -c1-16)
tarball="$cache/rootfs-$recipe_hash.tar"

engines=("$@")
if [ ${#engines[@]} -eq 0 ]; then
  for e in docker podman; do
    if command -v "$e" >/dev/null && "$e" info >/dev/null 2>&1; then engines+=("$e"); fi
  done
fi
[ ${#engines[@]} -gt 0 ] || { echo "build-fixture: no container engine answers" >&2; exit 1; }

host_mirror() {
  local uri
  uri=$(grep -hoE '^(URIs:|deb) +[a-z]+://[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  echo "${uri:-}"
}

make_rootfs() {
  local mirror=${DEBIAN_MIRROR:-$(host_mirror)}
  [ -n "$mirror" ] || { echo "build-fixture: set DEBIAN_MIRROR (no Debian archive in apt sources)" >&2; exit 1; }
  local root
  root=$(mktemp -d /var/tmp/manywheel-rootfs.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  local pkgs=(
    ca-certificates tar gzip xz-utils bzip2 unzip findutils procps
    gcc g++ gfortran make pkg-config patchelf binutils libc6-dev
    python3.13 python3.13-venv python3.13-dev
    python3.14 python3.14-venv python3.14-dev
    python3.15 python3.15-venv python3.15-dev
  )
  local IFS=,
  debootstrap --variant=minbase --include="${pkgs[*]}" forky "$root" "$mirror" \
    /usr/share/debootstrap/scripts/sid
  unset IFS
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  cp "$here/fixture-setup.sh" "$root/tmp/fixture-setup.sh"
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_INDEX_URL="${PIP_INDEX_URL:-}" bash /tmp/fixture-setup.sh
  rm -f "$root/tmp/fixture-setup.sh"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/root/.cache
  mkdir -p "$cache"
  tar -C "$root" --numeric-owner -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
}

for engine in "${engines[@]}"; do
  have=$("$engine" image inspect --format '{{index .Config.Labels "manywheel.fixture.recipe"}}' "$image" 2>/dev/null || true)
  if [ "$have" = "$recipe_hash" ]; then
    echo "build-fixture: $image is up to date for $engine"
    continue
  fi
  [ -s "$tarball" ] || make_rootfs
  "$engine" rmi -f "$image" >/dev/null 2>&1 || true
  "$engine" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL manywheel.fixture.recipe=$recipe_hash" \
    "$tarball" "$image" >/dev/null
  echo "build-fixture: $image ready for $engine"
done
