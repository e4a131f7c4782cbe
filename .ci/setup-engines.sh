#!/usr/bin/env bash
# Install and configure docker and podman on a fresh Debian machine, start dockerd,
# and build the fixture image for both. Idempotent; needs root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for cmd in podman:podman runc:runc dockerd:docker.io debootstrap:debootstrap; do
  command -v "${cmd%%:*}" >/dev/null || need+=("${cmd##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" uidmap >/dev/null
fi

# podman: crun fails on hybrid cgroups here; ulimits must stay under the sandbox's hard limits.
nofile=$(( $(ulimit -Hn) < 16384 ? $(ulimit -Hn) : 16384 ))
nproc_lim=$(ulimit -Hu); [ "$nproc_lim" = unlimited ] && nproc_lim=16384
nproc_lim=$(( nproc_lim < 16384 ? nproc_lim : 16384 ))
mkdir -p /etc/containers
cat > /etc/containers/containers.conf <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc_lim:$nproc_lim"]

[engine]
runtime = "runc"
CONF

bash "$(dirname "$0")/start-dockerd.sh"
podman info >/dev/null

"$(dirname "$0")/../tests/images/build-fixture.sh" docker podman
