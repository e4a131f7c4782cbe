#!/usr/bin/env bash
# Install and configure docker and podman on a fresh Debian machine, start dockerd, register
# QEMU for arm64 binaries, and build the fixture images (x86_64, i386, arm64) for both; the
# tools the builders' tests need.
# Idempotent; needs root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
# The builders' tests start a second dockerd in a network namespace with TLS (and a second
# podman service in another): ip, iptables, nsenter, openssl.
for cmd in podman:podman runc:runc dockerd:docker.io debootstrap:debootstrap mmdebstrap:mmdebstrap \
  qemu-aarch64-static:qemu-user-static ip:iproute2 iptables:iptables nsenter:util-linux \
  openssl:openssl; do
  command -v "${cmd%%:*}" >/dev/null || need+=("${cmd##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" uidmap >/dev/null
fi
# The ssh builder's test runs its own sshd (tests/integration/ssh_server.py): the package only,
# not started (policy-rc.d 101 tells its scripts not to start the service).
if [ ! -x /usr/sbin/sshd ]; then
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT  # whatever happens next
  fi
  apt-get update -qq
  apt-get install -y -qq openssh-server >/dev/null
  if [ -d /run/systemd/system ]; then  # nor at the next boot
    systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
fi

# arm64 binaries (the arm64 fixture, its containers) run under qemu-user-static, registered with
# binfmt_misc with the F flag (the interpreter is opened now, so it works in containers and
# chroots too). Without systemd nothing registers it, so it is done here as systemd-binfmt would,
# from the package's binfmt.d file; a registration without the F flag is replaced.
binfmt=/proc/sys/fs/binfmt_misc
mountpoint -q "$binfmt" || mount -t binfmt_misc binfmt_misc "$binfmt"
entry=$binfmt/qemu-aarch64
if [ -e "$entry" ] && ! grep -q '^flags:.*F' "$entry"; then echo -1 > "$entry"; fi
[ -e "$entry" ] || cat /usr/lib/binfmt.d/qemu-aarch64.conf > "$binfmt/register"
grep -qx enabled "$entry" || echo 1 > "$entry"

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
