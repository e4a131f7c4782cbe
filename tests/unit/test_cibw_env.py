"""CIBW_* variables, and the order of every layer: cibuildwheel's defaults < [tool.cibuildwheel]
< [tool.cibuildwheel.linux] < manywheel.toml < CIBW_<KEY> < CIBW_<KEY>_LINUX < MANYWHEEL_* <
the command line."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from manywheel import ConfigError, Options, load_options
from manywheel._cli import main as cli_main
from manywheel._config.cibw_env import cibw_variables
from manywheel._model import Plan, Target


def cibw(tmp_path: Path, table: str = "", *, tool: str = "cibuildwheel") -> Path:
    text = '[project]\nname = "x"\nversion = "1"\n'
    if table is not None and tool:
        text += f"\n[tool.{tool}]\n{table}"
    (tmp_path / "pyproject.toml").write_text(text)
    return tmp_path


@pytest.fixture(autouse=True)
def _x86_64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")


def test_variables_override_the_table_and_the_linux_variant_wins(tmp_path: Path) -> None:
    project = cibw(tmp_path, 'build = "cp312-*"\ntest-command = "pytest"\n')
    env = {
        "CIBW_BUILD": "cp{313,314}-*",
        "CIBW_BUILD_LINUX": "cp310-*",  # build has no platform variant in cibuildwheel
        "CIBW_TEST_COMMAND": "pytest -x",
        "CIBW_TEST_COMMAND_LINUX": "pytest -x {project}/tests",
        "CIBW_TEST_COMMAND_MACOS": "never read",
        "CIBW_BEFORE_ALL_LINUX": "yum install -y zlib-devel",
    }
    opts = load_options(project, environ=env)
    assert opts.build == ("cp{313,314}-*",)
    assert opts.test_command == "pytest -x {project}/tests"
    assert opts.setup_script == "yum install -y zlib-devel"
    assert opts.notes == ()


def test_the_order_of_all_layers(tmp_path: Path) -> None:
    project = cibw(
        tmp_path, 'before-build = "toml"\n[tool.cibuildwheel.linux]\nskip = "*-musllinux_*"\n'
    )
    (project / "manywheel.toml").write_text('before-build = "manywheel.toml"\n')
    opts = load_options(project, environ={})
    assert (opts.before_build, opts.skip) == ("manywheel.toml", ("*-musllinux_*",))
    env = {"CIBW_BEFORE_BUILD": "cibw", "CIBW_SKIP": ""}
    assert load_options(project, environ=env).before_build == "cibw"
    assert load_options(project, environ=env).skip == ()  # set, though empty
    env["MANYWHEEL_BEFORE_BUILD"] = "manywheel"
    assert load_options(project, environ=env).before_build == "manywheel"
    cli = {"before-build": "command line"}
    assert load_options(project, environ=env, cli=cli).before_build == "command line"


def test_a_manywheel_table_is_configured_by_manywheel_variables_only(tmp_path: Path) -> None:
    project = cibw(tmp_path, 'build = "cp313-*"\n', tool="manywheel")
    opts = load_options(project, environ={"CIBW_BUILD": "cp314-*", "CIBW_SKIP": "*t-*"})
    assert opts.build == ("cp313-*",)
    assert opts.notes == (
        f"ignored CIBW_BUILD, CIBW_SKIP: {project / 'pyproject.toml'} has [tool.manywheel], "
        "which MANYWHEEL_* variables (not CIBW_* ones) configure",
    )


def test_variables_alone_make_a_cibuildwheel_configuration(tmp_path: Path) -> None:
    project = cibw(tmp_path, tool="")
    plain = load_options(project, environ={})
    assert (plain.libc, plain.audit_command) == ((), ())  # manywheel's own defaults
    opts = load_options(project, environ={"CIBW_TEST_REQUIRES": "pytest"})
    assert opts.test_requires == ("pytest",)
    assert (opts.archs, opts.libc) == (("auto",), ("manylinux", "musllinux"))
    assert opts.audit_command == ("abi3audit --strict --report {abi3_wheel}",)
    assert [s.image for s in opts.image_specs()] == [
        "quay.io/pypa/manylinux_2_28_x86_64",
        "quay.io/pypa/musllinux_1_2_x86_64",
    ]


def test_values_in_cibuildwheels_string_formats(tmp_path: Path) -> None:
    env = {
        "CIBW_ENVIRONMENT": "CFLAGS='-O2 -g' PATH=\"$PATH:/opt/bin\"",
        "CIBW_ENVIRONMENT_PASS_LINUX": "TOKEN_NAME BUILD_TIME",
        "CIBW_CONFIG_SETTINGS": "setup-args=-Dx=1 setup-args=-Dy=2 --build-option=--mypyc",
        "CIBW_TEST_REQUIRES": "pytest 'pyzstd; python_version >= \"3.14\"'",
        "CIBW_TEST_EXTRAS": "test,qt",
        "CIBW_TEST_GROUPS": "dev docs",
        "CIBW_TEST_SOURCES": "tests 'data dir/x.png'",
        "CIBW_TEST_ENVIRONMENT": "PYTHONSAFEPATH=1",
        "CIBW_BEFORE_TEST": "pip install cmake",
        "CIBW_CONTAINER_ENGINE": "podman; create_args: --cpus 2 --memory=4g; disable_host_mount: true",
        "CIBW_BUILD_FRONTEND": "pip; args: --no-build-isolation",
        "CIBW_BUILD_VERBOSITY": "-1",
        "CIBW_ARCHS_LINUX": "x86_64,i686",
        "CIBW_ENABLE": "pypy",
        "CIBW_AUDIT_COMMAND": "abi3audit {abi3_wheel} && check-wheel-contents {wheel}",
        "CIBW_ALLOW_EMPTY": "true",
        "CIBW_OUTPUT_DIR": "wheelhouse",
        "CIBW_PROJECT_REQUIRES_PYTHON": ">=3.13",
    }
    project = cibw(tmp_path, 'enable = ["graalpy"]\n')
    (project / "tests").mkdir()
    (project / "data dir").mkdir()
    (project / "data dir" / "x.png").write_bytes(b"")
    with (project / "pyproject.toml").open("a") as f:
        f.write('[dependency-groups]\ndev = ["pytest"]\ndocs = ["sphinx"]\n')
    opts = load_options(project, environ=env)
    assert opts.environment == (("CFLAGS", "'-O2 -g'"), ("PATH", '"$PATH:/opt/bin"'))
    assert opts.environment_pass == ("TOKEN_NAME", "BUILD_TIME")
    assert opts.config_settings == (
        ("setup-args", "-Dx=1"),
        ("setup-args", "-Dy=2"),
        ("--build-option", "--mypyc"),
    )
    assert opts.test_requires == ("pytest", 'pyzstd; python_version >= "3.14"')
    assert opts.test_extras == ("test", "qt")
    assert opts.test_groups == ("dev", "docs")
    assert opts.test_sources == ("tests", "data dir/x.png")
    assert opts.test_environment == (("PYTHONSAFEPATH", "1"),)
    assert opts.before_test == "pip install cmake"
    assert (opts.engine, opts.engine_args) == ("podman", ("--cpus", "2", "--memory=4g"))
    assert (opts.build_frontend, opts.build_frontend_args) == ("pip", ("--no-build-isolation",))
    assert opts.build_verbosity == -1
    assert opts.archs == ("x86_64", "i686")
    assert opts.enable == ("graalpy", "pypy")  # the variable adds to the table's groups
    assert opts.audit_command == ("abi3audit {abi3_wheel}", "check-wheel-contents {wheel}")
    assert opts.allow_empty is True
    assert opts.output_dir == Path.cwd() / "wheelhouse"  # as cibuildwheel: from where it runs
    assert opts.requires_python == ">=3.13"


def test_cibw_inherit_joins_a_variable_to_the_table(tmp_path: Path) -> None:
    project = cibw(
        tmp_path,
        'test-requires = ["pytest"]\nbefore-build = "echo toml"\nenvironment = { A = "1" }\n',
    )
    env = {
        "CIBW_INHERIT": "test-requires; before-build-linux: prepend; environment: append",
        "CIBW_TEST_REQUIRES": "numpy",
        "CIBW_BEFORE_BUILD_LINUX": "echo env",
        "CIBW_ENVIRONMENT": "B=$A",
    }
    opts = load_options(project, environ=env)
    assert opts.test_requires == ("pytest", "numpy")
    assert opts.before_build == "{ echo env\n} && { echo toml\n}"
    assert opts.environment == (("A", '"1"'), ("B", "$A"))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CIBW_BUILD_FRONTEND": "poetry"},
            "'CIBW_BUILD_FRONTEND' = 'poetry': unknown build frontend",
        ),
        (
            {"CIBW_CONTAINER_ENGINE_LINUX": "lxc"},
            "'CIBW_CONTAINER_ENGINE_LINUX' = 'lxc': unknown container engine",
        ),
        ({"CIBW_BUILD_VERBOSITY": "loud"}, "'CIBW_BUILD_VERBOSITY' = 'loud'"),
        ({"CIBW_INHERIT": "build: append"}, "'inherit' names 'build', which cannot inherit"),
        ({"CIBW_INHERIT": "test-command: merge"}, "inherits by 'merge'"),
        ({"CIBW_ENABLE": "cpython-nogil"}, "environment (CIBW_*): 'enable' has unknown group"),
        ({"CIBW_ARCHS": "sparc"}, "'archs' has unknown architecture 'sparc'"),
    ],
)
def test_a_bad_variable_is_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_options(cibw(tmp_path), environ=env)
    assert message in info.value.message


def test_variables_with_no_meaning_here_are_named(tmp_path: Path) -> None:
    env = {"CIBW_PLATFORM": "macos", "CIBW_DEBUG_KEEP_CONTAINER": "1"}
    notes = load_options(cibw(tmp_path), environ=env).notes
    assert notes == (
        "CIBW_PLATFORM=macos: manywheel builds Linux wheels only; ignored",
        "CIBW_DEBUG_KEEP_CONTAINER: ignored, manywheel always removes its containers (each "
        "target's full log is kept; `manywheel export docker` gives a build to debug)",
    )
    assert load_options(cibw(tmp_path), environ={"CIBW_PLATFORM": "linux"}).notes == ()
    retired = load_options(cibw(tmp_path), environ={"CIBW_FREE_THREADED_SUPPORT": "1"}).notes
    assert retired[0].startswith("CIBW_FREE_THREADED_SUPPORT: ignored (cibuildwheel no longer")


def test_an_empty_archs_leaves_them_to_the_layer_below(tmp_path: Path) -> None:
    """cibuildwheel reads archs ignoring empty values, in the table and in its variables."""
    project = cibw(tmp_path, 'archs = ["x86_64", "i686"]\n[tool.cibuildwheel.linux]\narchs = ""\n')
    for env in ({}, {"CIBW_ARCHS": ""}, {"CIBW_ARCHS_LINUX": " "}):
        assert load_options(project, environ=env).archs == ("x86_64", "i686")
    assert load_options(project, environ={"CIBW_ARCHS": "i686"}).archs == ("i686",)


def test_which_variables_configure_a_build() -> None:
    env = {
        "CIBW_BUILD": "*",
        "CIBW_BEFORE_ALL_LINUX": "x",
        "CIBW_BEFORE_ALL_MACOS": "x",
        "CIBW_BUILD_LINUX": "x",  # not one of cibuildwheel's
        "CIBW_CACHE_PATH": "/tmp/c",
        "CIBW_ALLOW_EMPTY": "1",
        "PATH": "/bin",
    }
    assert cibw_variables(env) == ["CIBW_ALLOW_EMPTY", "CIBW_BEFORE_ALL_LINUX", "CIBW_BUILD"]


def test_a_cibuildwheel_config_file_and_the_command_line_of_cibuildwheel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "p").mkdir()
    project = cibw(tmp_path / "p", 'build = "cp313-*"\n')
    (project / "ci").mkdir()
    (project / "ci" / "cibw.toml").write_text('[tool.cibuildwheel]\ntest-command = "pytest"\n')
    seen: list[object] = []
    monkeypatch.setattr(cli_main, "plan", lambda options, listener: seen.append(options) or PLAN)
    argv = ["build", str(project), "--config-file", "{package}/ci/cibw.toml", "--platform", "linux"]
    assert cli_main.main([*argv, "--print-build-identifiers"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "cp313-manylinux_x86_64",
        "cp314-manylinux_x86_64",
    ]
    (options,) = seen
    assert isinstance(options, Options)
    # cibuildwheel reads the --config-file instead of pyproject.toml's table
    assert (options.build, options.test_command) == (("*",), "pytest")
    with pytest.raises(SystemExit) as info:  # argparse: not a choice
        cli_main.main(["build", str(project), "--platform", "macos"])
    assert info.value.code == 2


PLAN = Plan(
    (),
    (
        Target("cp313-manylinux_x86_64", "3.13.1", False, "/p"),
        Target("cp314-manylinux_x86_64", "3.14.1", False, "/p"),
    ),
)


def test_a_command_reading_cibuildwheels_host_mount_is_named(tmp_path: Path) -> None:
    """cibuildwheel mounts the host's root at /host; manywheel never does, and says so."""
    project = cibw(
        tmp_path,
        'before-all = "cp /host/etc/app.conf /etc/"\n'
        'environment = { A = "/hostname", B = "$HOME/host/x" }\n',
    )
    notes = load_options(project, environ={"CIBW_TEST_COMMAND": "ls /host"}).notes
    assert [n.split(" names /host, ")[0].rsplit(" ", 1)[-1] for n in notes] == [
        "before-all",
        "CIBW_TEST_COMMAND",
    ]
    assert "manywheel never mounts it" in notes[0]
