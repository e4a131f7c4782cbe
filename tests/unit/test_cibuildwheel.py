from __future__ import annotations

import tomllib

from manywheel._config.cibuildwheel import to_toml, translate

CIBW = {
    "build": "cp311-* cp312-*",
    "skip": ["*-musllinux_*"],
    "test-requires": ["pytest"],
    "test-command": "pytest {project}/tests",
    "before-build": ["pip install cython", "echo hi"],
    "build-frontend": "build",
    "archs": ["auto64"],
    "macos": {"archs": ["arm64"]},
    "linux": {
        "before-all": "yum install -y zlib-devel",
        "repair-wheel-command": "auditwheel repair -w {dest_dir} {wheel}",
        "manylinux-x86_64-image": "manylinux_2_28",
        "environment": {"CFLAGS": "-O3", "PATH": "$PATH:/opt/x"},
        "container-engine": "podman; create_args: --cpus 2",
    },
}


def test_linux_keys_are_translated() -> None:
    t = translate(CIBW)
    assert t.values == {
        "build": "cp311-* cp312-*",
        "skip": ["*-musllinux_*"],
        "test-requires": ["pytest"],
        "test-command": "pytest {project}/tests",
        "before-build": "pip install cython\necho hi",
        "setup-script": "yum install -y zlib-devel",
        "repair-command": "auditwheel repair -w {dest_dir} {wheel}",
        "image": "quay.io/pypa/manylinux_2_28_x86_64",
        "environment": {"CFLAGS": "-O3", "PATH": "$PATH:/opt/x"},
        "engine": "podman",
        "engine-args": ["--cpus", "2"],
    }
    assert sorted(t.ignored) == [
        "archs (not used for Linux builds)",
        "macos (not used for Linux builds)",
    ]


def test_pip_frontend_becomes_a_build_command() -> None:
    t = translate({"build-frontend": "pip"})
    assert "pip wheel" in t.values["build-command"]


def test_unknown_keys_are_reported() -> None:
    assert translate({"dependency-versions": "latest"}).ignored == [
        "dependency-versions (no manywheel equivalent)"
    ]


def test_toml_round_trip() -> None:
    t = translate(CIBW)
    parsed = tomllib.loads(to_toml(t.values))["tool"]["manywheel"]
    assert parsed == t.values
