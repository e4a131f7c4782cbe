"""Where targets build: the container engines (docker, podman), host mode, file transfer."""
