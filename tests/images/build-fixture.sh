#!/usr/bin/env bash
# Build the manylinux-like fixture images used by the integration tests, one per architecture:
#   amd64  localhost/manywheel-fixture:forky        x86_64
#   i386   localhost/manywheel-fixture:forky-i386   image architecture 386; i686 (`linux32`) in it
#   arm64  localhost/manywheel-fixture:forky-arm64  aarch64, run under QEMU user emulation, which
#                                                   .ci/setup-engines.sh registers
#
# Each is a Debian forky rootfs with CPython 3.13, 3.14 and 3.15 laid out as manylinux does
# (/opt/python/cpXY-cpXY, each with pip and build; amd64 also PyPy as /opt/python/pp311-pypy311_ppXY),
# gcc/g++/gfortran, auditwheel, uv and patchelf
# on PATH, and the host CA bundle as the trust store. amd64 and i386 run natively here: debootstrap,
# then fixture-setup.sh in a chroot (under linux32 for i386). arm64 is made by emulated-rootfs.sh,
# which does natively what it can. The rootfs tarball is kept per architecture and recipe (a hash
# of these scripts), and an image whose label names the same recipe is left as it is.
#
# Usage: tests/images/build-fixture.sh [ENGINE ...]     (default: every engine that answers)
# Env:   MANYWHEEL_FIXTURE_ARCHS (default "amd64 i386 arm64"): the Debian architectures to build
#        MANYWHEEL_FIXTURE_IMAGE (default localhost/manywheel-fixture:forky): the amd64 image; the
#          others are named after it, with -i386 and -arm64 appended
#        MANYWHEEL_FIXTURE_CACHE (default ~/.cache/manywheel-fixture): keeps the rootfs tarballs
#        DEBIAN_MIRROR (default: the first Debian archive URI in the host's apt sources)
#        PIP_INDEX_URL (optional): the package index for the images' Python packages
set -euo pipefail

archs=${MANYWHEEL_FIXTURE_ARCHS:-amd64 i386 arm64}
base_image=${MANYWHEEL_FIXTURE_IMAGE:-localhost/manywheel-fixture:forky}
cache=${MANYWHEEL_FIXTURE_CACHE:-$HOME/.cache/manywheel-fixture}
here=$(cd "$(dirname "$0")" && pwd)
host_arch=$(dpkg --print-architecture)
image_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

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

# runs_natively ARCH: whether this machine runs ARCH's binaries without emulation
runs_natively() {
  [ "$1" = "$host_arch" ] || { [ "$1" = i386 ] && [ "$host_arch" = amd64 ]; }
}

make_rootfs() {  # ARCH TARBALL
  local arch=$1 tarball=$2
  local mirror=${DEBIAN_MIRROR:-$(host_mirror)}
  [ -n "$mirror" ] || { echo "build-fixture: set DEBIAN_MIRROR (no Debian archive in apt sources)" >&2; exit 1; }
  local work root
  work=$(mktemp -d /var/tmp/manywheel-rootfs.XXXXXX)
  # --one-file-system: never into what a failed bootstrap may have left mounted in the chroot
  trap 'rm -rf --one-file-system "$work"' RETURN
  local pkgs=(
    ca-certificates tar gzip xz-utils bzip2 unzip findutils procps
    gcc g++ gfortran make pkg-config patchelf binutils libc6-dev
    python3.13 python3.13-venv python3.13-dev
    python3.14 python3.14-venv python3.14-dev
    python3.15 python3.15-venv python3.15-dev
  )
  # PyPy where cibuildwheel's users build it most: Debian's pypy3 (x86_64 only, to keep the
  # emulated rootfs small), laid out by fixture-setup.sh as manylinux's /opt/python/pp3XX-*.
  [ "$arch" != amd64 ] || pkgs+=(pypy3 pypy3-dev pypy3-venv)
  if runs_natively "$arch"; then
    root=$work
    local personality=()
    [ "$arch" = "$host_arch" ] || personality=(linux32)
    local IFS=,
    debootstrap --arch="$arch" --variant=minbase --include="${pkgs[*]}" forky "$root" "$mirror" \
      /usr/share/debootstrap/scripts/sid
    unset IFS
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    cp "$here/fixture-setup.sh" "$root/tmp/fixture-setup.sh"
    "${personality[@]}" chroot "$root" /usr/bin/env -i PATH="$image_path" \
      HOME=/root PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
      PIP_INDEX_URL="${PIP_INDEX_URL:-}" bash /tmp/fixture-setup.sh
    rm -f "$root/tmp/fixture-setup.sh"
  else
    bash "$here/emulated-rootfs.sh" "$arch" "$work" "$mirror" "${pkgs[@]}"
    root=$work/target
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/root/.cache
  mkdir -p "$cache"
  tar -C "$root" --numeric-owner -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
}

# docker_load IMAGE OCI_ARCH RECIPE TARBALL: what `docker import` makes of the tarball, for an
# architecture that is not the daemon's (docker 20.10's import ignores --platform): a docker archive
# of the one layer with an image config naming the architecture, loaded.
docker_load() {
  local image=$1 oci_arch=$2 recipe=$3 tarball=$4 stage diff_id
  stage=$(mktemp -d "$cache/load.XXXXXX")
  diff_id=$(sha256sum "$tarball" | cut -d' ' -f1)
  ln -s "$tarball" "$stage/layer.tar"
  cat > "$stage/config.json" <<JSON
{"architecture": "$oci_arch", "os": "linux", "created": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "config": {"Env": ["PATH=$image_path", "LANG=C.UTF-8"], "Cmd": ["/bin/bash"],
            "Labels": {"manywheel.fixture.recipe": "$recipe"}},
 "rootfs": {"type": "layers", "diff_ids": ["sha256:$diff_id"]},
 "history": [{"created_by": "tests/images/build-fixture.sh"}]}
JSON
  printf '[{"Config": "config.json", "RepoTags": ["%s"], "Layers": ["layer.tar"]}]\n' "$image" \
    > "$stage/manifest.json"
  tar -C "$stage" -chf - manifest.json config.json layer.tar | docker load >/dev/null
  rm -rf "$stage"
}

# describe ARCH: sets image, oci_arch, recipe_hash (of the scripts that make ARCH's rootfs) and
# tarball; stale: the engines that lack the image of this recipe.
describe() {
  local arch=$1 engine recipe
  case $arch in
    amd64) oci_arch=amd64 image=$base_image ;;
    i386) oci_arch=386 image=$base_image-i386 ;;
    arm64) oci_arch=arm64 image=$base_image-arm64 ;;
    *) echo "build-fixture: unknown architecture $arch (amd64, i386, arm64)" >&2; exit 1 ;;
  esac
  recipe=("$0" "$here/fixture-setup.sh")
  runs_natively "$arch" || recipe+=("$here/emulated-rootfs.sh")
  recipe_hash=$( { cat "${recipe[@]}"; echo "$arch"; } | sha256sum | cut -c1-16)
  tarball="$cache/rootfs-$arch-$recipe_hash.tar"
  stale=()
  for engine in "${engines[@]}"; do
    if [ "$("$engine" image inspect --format '{{index .Config.Labels "manywheel.fixture.recipe"}}' "$image" 2>/dev/null)" = "$recipe_hash" ]; then
      echo "build-fixture: $image is up to date for $engine"
    else
      stale+=("$engine")
    fi
  done
}

# An emulated rootfs takes minutes of mostly one core: it is made in the background while the
# native ones are made and imported.
declare -A background=()
trap 'wait' EXIT  # a failure elsewhere lets a background build end, never orphaned
for arch in $archs; do
  describe "$arch" >/dev/null
  if ! runs_natively "$arch" && [ ${#stale[@]} -gt 0 ] && [ ! -s "$tarball" ]; then
    make_rootfs "$arch" "$tarball" > >(sed -u "s/^/[$arch] /") 2>&1 &
    background[$arch]=$!
  fi
done

for arch in $archs; do
  describe "$arch"
  [ ${#stale[@]} -gt 0 ] || continue
  if [ -n "${background[$arch]:-}" ]; then
    wait "${background[$arch]}" || { echo "build-fixture: the $arch rootfs failed" >&2; exit 1; }
  fi
  [ -s "$tarball" ] || make_rootfs "$arch" "$tarball"
  for engine in "${stale[@]}"; do
    "$engine" rmi -f "$image" >/dev/null 2>&1 || true
    if [ "$engine" = docker ] && [ "$oci_arch" != "$(docker version --format '{{.Server.Arch}}')" ]; then
      docker_load "$image" "$oci_arch" "$recipe_hash" "$tarball"
    else
      arch_opt=()
      [ "$engine" = docker ] || arch_opt=(--arch "$oci_arch")
      "$engine" import "${arch_opt[@]}" \
        --change "ENV PATH=$image_path" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        --change "LABEL manywheel.fixture.recipe=$recipe_hash" \
        "$tarball" "$image" >/dev/null
    fi
    echo "build-fixture: $image ready for $engine"
  done
done
