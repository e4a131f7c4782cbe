from __future__ import annotations

import platform
from pathlib import Path

import pytest
import tomllib

from manywheel import _run, load_options
from manywheel._cli.main import main
from manywheel._config.cibuildwheel import to_toml, translate
from manywheel._config.matrix import ImageSpec

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
    assert (
        t.values
        == {
            "build": ["cp311-*", "cp312-*"],
            "skip": ["*-musllinux_*"],
            "test-requires": ["pytest"],
            "test-command": "pytest {project}/tests",
            "before-build": "pip install cython && echo hi",  # a list: joined with && as cibuildwheel does
            "build-frontend": "build",
            "build-frontend-args": [],
            "setup-script": "yum install -y zlib-devel",
            "repair-command": "auditwheel repair -w {dest_dir} {wheel}",
            "manylinux-x86_64-image": "manylinux_2_28",
            "environment": {"CFLAGS": "-O3", "PATH": "$PATH:/opt/x"},
            "engine": "podman",
            "engine-args": ["--cpus", "2"],
            "archs": ["auto64"],
            "libc": ["manylinux", "musllinux"],  # musllinux too, unless skip drops it
            "audit-command": ["abi3audit --strict --report {abi3_wheel}"],  # cibuildwheel's default
            "audit-requires": ["abi3audit"],
            "output-dir": "wheelhouse",  # cibuildwheel's, in the current folder
        }
    )
    assert t.ignored == []  # the macos table is for another platform: nothing to say
    # cibuildwheel's images for the platforms the table leaves to its defaults
    assert t.default_images["manylinux-aarch64-image"] == "manylinux_2_28"
    assert t.default_images["manylinux-armv7l-image"] == "manylinux_2_31"
    assert t.default_images["musllinux-x86_64-image"] == "musllinux_1_2"
    assert "manylinux-x86_64-image" not in t.default_images


def test_cibuildwheel_defaults_apply_archs_auto_and_its_images() -> None:
    t = translate({})
    assert t.values == {
        "archs": ["auto"],
        "libc": ["manylinux", "musllinux"],
        "audit-command": ["abi3audit --strict --report {abi3_wheel}"],
        "audit-requires": ["abi3audit"],
        "output-dir": "wheelhouse",
    }
    assert len(t.default_images) == 14


def test_a_pypy_image_key_is_named_only_when_it_differs() -> None:
    assert translate({"manylinux-pypy_x86_64-image": "manylinux_2_28"}).ignored == []
    t = translate({"manylinux-pypy_x86_64-image": "manylinux2014"})
    assert t.ignored == [
        "manylinux-pypy_x86_64-image = 'manylinux2014' (PyPy targets build in the image of "
        "manylinux-x86_64-image, which has them; set that key to build them elsewhere)"
    ]


@pytest.mark.parametrize(
    ("value", "frontend", "args"),
    [
        ("pip", "pip", []),
        ("default", "build", []),
        ("build[uv]; args: --no-isolation", "build[uv]", ["--no-isolation"]),
        (
            {"name": "pip", "args": ["--no-build-isolation", "-v"]},
            "pip",
            ["--no-build-isolation", "-v"],
        ),
        ("uv", "uv", []),
    ],
)
def test_build_frontend_forms(value: object, frontend: str, args: list[str]) -> None:
    t = translate({"build-frontend": value})
    assert (t.values["build-frontend"], t.values["build-frontend-args"]) == (frontend, args)


def test_keys_of_other_platforms_pass_quietly_and_unknown_keys_are_named() -> None:
    assert translate({"dependency-versions": "latest", "xbuild-tools": ["cmake"]}).ignored == []
    assert translate({"test-comand": "pytest"}).ignored == [
        "test-comand (not a cibuildwheel option; did you mean 'test-command'?)"
    ]


def test_toml_round_trip() -> None:
    t = translate(CIBW)
    parsed = tomllib.loads(to_toml(t.values))["tool"]["manywheel"]
    assert parsed == t.values


Q = "quay.io/pypa"


def cibw_project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n\n[tool.cibuildwheel]\n' + table
    )
    return tmp_path


@pytest.fixture
def on_x86_64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")


@pytest.mark.usefixtures("on_x86_64")
def test_archs_string_and_both_libcs_in_cibuildwheels_images(tmp_path: Path) -> None:
    opts = load_options(cibw_project(tmp_path, 'archs = "auto64"\n'), environ={})
    assert (opts.archs, opts.libc) == (("auto64",), ("manylinux", "musllinux"))
    assert opts.image_specs() == (
        ImageSpec(f"{Q}/manylinux_2_28_x86_64", "manylinux-x86_64-image", "manylinux", "x86_64",
                  "manylinux_2_28"),
        ImageSpec(f"{Q}/musllinux_1_2_x86_64", "musllinux-x86_64-image", "musllinux", "x86_64",
                  "musllinux_1_2"),
    )  # fmt: skip
    assert opts.notes == ()


@pytest.mark.usefixtures("on_x86_64")
def test_default_archs_are_auto(tmp_path: Path) -> None:
    opts = load_options(cibw_project(tmp_path, 'build = "cp313-*"\n'), environ={})
    assert opts.archs == ("auto",)
    assert [s.platform for s in opts.image_specs()] == ["manylinux_x86_64", "musllinux_x86_64"]
    linux = cibw_project(tmp_path, '[tool.cibuildwheel.linux]\narchs = ["x86_64", "aarch64"]\n')
    assert [(s.platform, s.image) for s in load_options(linux, environ={}).image_specs()] == [
        ("manylinux_x86_64", f"{Q}/manylinux_2_28_x86_64"),
        ("manylinux_aarch64", f"{Q}/manylinux_2_28_aarch64"),
        ("musllinux_x86_64", f"{Q}/musllinux_1_2_x86_64"),
        ("musllinux_aarch64", f"{Q}/musllinux_1_2_aarch64"),
    ]


@pytest.mark.usefixtures("on_x86_64")
def test_an_image_key_short_name_becomes_its_reference(tmp_path: Path) -> None:
    project = cibw_project(
        tmp_path,
        'manylinux-x86_64-image = "manylinux2014"\nskip = "*-musllinux_*"\n'
        'musllinux-x86_64-image = "ghcr.io/me/musl:1"\n',
    )
    opts = load_options(project, environ={})
    assert opts.image_keys() == {
        ("manylinux", "x86_64"): ("manylinux2014",),
        ("musllinux", "x86_64"): ("ghcr.io/me/musl:1",),
    }
    assert [(s.key, s.image, s.policy) for s in opts.image_specs()] == [
        ("manylinux-x86_64-image", f"{Q}/manylinux2014_x86_64", "manylinux2014"),
        ("musllinux-x86_64-image", "ghcr.io/me/musl:1", None),
    ]
    # The musllinux platform is in the matrix, and dropped at plan time by skip.
    assert [s.platform for s in _run._wanted_specs(opts)] == ["manylinux_x86_64"]


@pytest.mark.usefixtures("on_x86_64")
def test_the_users_image_wins_over_cibuildwheels_default_images(tmp_path: Path) -> None:
    project = cibw_project(tmp_path, 'archs = ["x86_64", "i686"]\n')
    opts = load_options(project, environ={"MANYWHEEL_IMAGE": "mine:1"})
    assert [(s.platform, s.key, s.image) for s in opts.image_specs()] == [
        ("manylinux_x86_64", "image", "mine:1"),
        ("manylinux_i686", "manylinux-i686-image", f"{Q}/manylinux_2_28_i686"),
        ("musllinux_x86_64", "musllinux-x86_64-image", f"{Q}/musllinux_1_2_x86_64"),
        ("musllinux_i686", "musllinux-i686-image", f"{Q}/musllinux_1_2_i686"),
    ]
    # A key the user sets wins over both.
    opts = load_options(project, environ={"MANYWHEEL_MANYLINUX_I686_IMAGE": "manylinux_2_34"})
    assert opts.image_specs()[1].image == f"{Q}/manylinux_2_34_i686"
    # manywheel's own table replaces the cibuildwheel one, defaults and all.
    (project / "pyproject.toml").write_text('[tool.manywheel]\narchs = ["i686"]\n')
    assert load_options(project, environ={}).image_specs()[0].image == f"{Q}/manylinux_2_34_i686"


@pytest.mark.usefixtures("on_x86_64")
def test_init_writes_cibuildwheels_images_for_this_machines_archs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cibw_project(tmp_path, 'archs = "auto64 aarch64"\n')
    assert main(["init", "--from-cibuildwheel", "--stdout", str(tmp_path)]) == 0
    table = tomllib.loads(capsys.readouterr().out)["tool"]["manywheel"]
    assert table == {
        "archs": ["auto64", "aarch64"],
        "libc": ["manylinux", "musllinux"],
        "audit-command": ["abi3audit --strict --report {abi3_wheel}"],
        "audit-requires": ["abi3audit"],
        "output-dir": "wheelhouse",
        "manylinux-x86_64-image": "manylinux_2_28",
        "manylinux-aarch64-image": "manylinux_2_28",
        "musllinux-x86_64-image": "musllinux_1_2",
        "musllinux-aarch64-image": "musllinux_1_2",
    }
    cibw_project(tmp_path, 'archs = ["sparc"]\n')  # archs it cannot read: no images added
    assert main(["init", "--from-cibuildwheel", "--stdout", str(tmp_path)]) == 0
    table = tomllib.loads(capsys.readouterr().out)["tool"]["manywheel"]
    assert table["archs"] == ["sparc"]
    assert "manylinux-x86_64-image" not in table


def test_init_carries_over_inherit_and_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cibw_project(
        tmp_path,
        'test-requires = ["pytest"]\nbefore-build = "echo a"\n'
        '[tool.cibuildwheel.linux]\ninherit.before-build = "append"\nbefore-build = ["echo b"]\n'
        '[[tool.cibuildwheel.overrides]]\nselect = "cp313-*"\ninherit.test-requires = "prepend"\n'
        'test-requires = "numpy"\nbefore-all = "yum install -y x"\nskip = "cp313-*"\n',
    )
    assert main(["init", "--from-cibuildwheel", "--stdout", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    written = tomllib.loads(out)["tool"]["manywheel"]
    assert "not carried over: [tool.cibuildwheel.overrides] #1: ignored skip in an override" in err
    assert written["before-build"] == "echo a && echo b"
    assert written["overrides"] == [
        {
            "select": "cp313-*",
            "inherit": {"test-requires": "prepend"},
            "test-requires": ["numpy"],
            "setup-script": "yum install -y x",
        }
    ]
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n\n'
        + to_toml({k: v for k, v in written.items() if k != "overrides"}, written["overrides"])
    )
    opts = load_options(tmp_path, environ={}).for_target("cp313-manylinux_x86_64")
    assert (opts.test_requires, opts.setup_script) == (("numpy", "pytest"), "yum install -y x")
