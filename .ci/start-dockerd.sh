#!/usr/bin/env bash
# Start dockerd in the background if it does not answer, with ulimits this sandbox allows.
set -euo pipefail
docker info >/dev/null 2>&1 && exit 0
# A daemon that is starting up or shutting down: give it a minute to do either.
for _ in $(seq 1 60); do
  pgrep -x dockerd >/dev/null || break
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
if pgrep -x dockerd >/dev/null; then
  echo "start-dockerd: a dockerd runs but has not answered for 60 s; stop it first" >&2
  exit 1
fi
# A daemon that died leaves its pid file (and maybe its containerd) behind.
rm -f /var/run/docker.pid
pkill -f 'containerd --config /var/run/docker/containerd/containerd.toml' || true
sleep 1
nofile=$(( $(ulimit -Hn) < 16384 ? $(ulimit -Hn) : 16384 ))
nproc_lim=$(ulimit -Hu); [ "$nproc_lim" = unlimited ] && nproc_lim=16384
nproc_lim=$(( nproc_lim < 16384 ? nproc_lim : 16384 ))
nohup dockerd --default-ulimit "nofile=$nofile:$nofile" --default-ulimit "nproc=$nproc_lim:$nproc_lim" \
  >>/var/log/manywheel-dockerd.log 2>&1 </dev/null &
for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null 2>&1 || { tail -n 30 /var/log/manywheel-dockerd.log >&2; exit 1; }
