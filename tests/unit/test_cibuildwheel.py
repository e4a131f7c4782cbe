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
        "manylinux-x86_64-image": "manylinux_2_28",
        "environment": {"CFLAGS": "-O3", "PATH": "$PATH:/opt/x"},
        "engine": "podman",
        "engine-args": ["--cpus", "2"],
        "archs": ["auto64"],
        "libc": ["manylinux", "musllinux"],  # musllinux too, unless skip drops it
    }
    assert sorted(t.ignored) == ["macos (not used for Linux builds)"]
    # cibuildwheel's images for the platforms the table leaves to its defaults
    assert t.default_images["manylinux-aarch64-image"] == "manylinux_2_28"
    assert t.default_images["manylinux-armv7l-image"] == "manylinux_2_31"
    assert t.default_images["musllinux-x86_64-image"] == "musllinux_1_2"
    assert "manylinux-x86_64-image" not in t.default_images


def test_cibuildwheel_defaults_apply_archs_auto_and_its_images() -> None:
    t = translate({})
    assert t.values == {"archs": ["auto"], "libc": ["manylinux", "musllinux"]}
    assert len(t.default_images) == 14


def test_pypy_image_keys_are_named_as_ignored() -> None:
    t = translate({"manylinux-pypy_x86_64-image": "manylinux_2_28"})
    assert t.ignored == [
        "manylinux-pypy_x86_64-image (manywheel builds CPython; PyPy images are not used)"
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
