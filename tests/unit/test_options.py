from __future__ import annotations

import subprocess
from dataclasses import fields, replace
from pathlib import Path

import pytest

from manywheel import ConfigError, Options, load_options
from manywheel._config.registry import DEFAULT_REPAIR, OPTIONS


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n\n[tool.manywheel]\n' + body
    )
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    opts = load_options(write(tmp_path, ""), environ={})
    assert opts.image == "quay.io/pypa/manylinux_2_34_x86_64"
    assert opts.engine == "auto"
    assert opts.output_dir == tmp_path / "dist"
    assert opts.build_isolation is True
    assert opts.build == ("*",)


# Fields of Options that are not options: where the project is and what configured it.
NOT_OPTIONS = {
    "project_dir", "config_files", "notes", "default_images", "stages", "source_archive"
}  # fmt: skip
# The Python type of each option kind (a default of None adds "| None").
KIND_TYPES = {
    "str": "str",
    "text": "str",
    "bool": "bool",
    "int": "int",
    "path": "Path",
    "words": "tuple[str, ...]",
    "lines": "tuple[str, ...]",
    "args": "tuple[str, ...]",
    "table": "tuple[tuple[str, str], ...]",
    "settings": "tuple[tuple[str, str], ...]",
}


def test_every_option_is_one_field_with_the_registrys_default(tmp_path: Path) -> None:
    """The registry declares each option once; Options has a field for each, typed by its
    kind, whose default is the registry's (a project-relative path resolved)."""
    names = [f.name for f in fields(Options)]
    assert sorted(set(names) - NOT_OPTIONS) == sorted(spec.field for spec in OPTIONS)
    types = {f.name: f.type for f in fields(Options)}
    plain = Options(tmp_path)
    for spec in OPTIONS:
        optional = " | None" if spec.default is None else ""
        assert types[spec.field] == KIND_TYPES[spec.kind] + optional, spec.name
        default = spec.default
        if spec.kind == "path" and isinstance(default, str):
            default = tmp_path / default
        assert getattr(plain, spec.field) == default, spec.name


@pytest.mark.parametrize("pyproject", [None, '[project]\nname = "x"\nversion = "1"\n'])
def test_options_built_in_python_equal_the_cli_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pyproject: str | None
) -> None:
    """Options(project_dir=p) builds what `manywheel build p` builds with no configuration:
    the wheels are repaired and land in p/dist (not in the current folder's dist)."""
    project = tmp_path / "project"
    project.mkdir()
    if pyproject is not None:
        (project / "pyproject.toml").write_text(pyproject)
    monkeypatch.chdir(tmp_path)
    plain = Options(project_dir=project)
    assert plain == load_options(project, environ={})
    assert plain.repair_command == DEFAULT_REPAIR
    assert plain.output_dir == project / "dist"
    # Relative project folders are resolved as the command line resolves them.
    assert Options(Path("project")) == load_options("project", environ={})


def test_empty_values_mean_no_repair_and_the_default_output(tmp_path: Path) -> None:
    """An empty repair-command turns the repair off; an empty path option means its default."""
    opts = load_options(tmp_path, environ={}, cli={"repair-command": "", "output-dir": ""})
    assert opts.repair_command == ""
    assert opts.output_dir == tmp_path / "dist"
    assert replace(opts, repair_command=None).repair_command == ""  # type: ignore[arg-type]


def test_precedence_file_env_cli(tmp_path: Path) -> None:
    project = write(tmp_path, 'image = "from-file"\nengine = "podman"\njobs = 3\n')
    opts = load_options(project, environ={"MANYWHEEL_IMAGE": "from-env", "MANYWHEEL_JOBS": "2"})
    assert (opts.image, opts.engine, opts.jobs) == ("from-env", "podman", 2)
    opts = load_options(project, environ={"MANYWHEEL_IMAGE": "from-env"}, cli={"image": "from-cli"})
    assert opts.image == "from-cli"


def test_manywheel_toml_overrides_pyproject(tmp_path: Path) -> None:
    project = write(tmp_path, 'image = "a"\n')
    (project / "manywheel.toml").write_text('image = "b"\n')
    assert load_options(project, environ={}).image == "b"


def test_unknown_key_names_file_key_and_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_options(write(tmp_path, 'sytem-packages = ["zlib-devel"]\n'), environ={})
    err = info.value
    assert "pyproject.toml" in err.message
    assert "'sytem-packages'" in err.message
    assert err.tip is not None
    assert "system-packages" in err.tip
    assert err.exit_code == 2


def test_unknown_env_style_key_suggests_env_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_options(write(tmp_path, ""), environ={}, cli={"imag": "x"})
    assert "--imag" in info.value.message
    assert info.value.tip is not None
    assert "--image" in info.value.tip


def test_wrong_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'jobs' must be a whole number"):
        load_options(write(tmp_path, 'jobs = "many"\n'), environ={})
    with pytest.raises(ConfigError, match="'system-packages' must be a list of strings"):
        load_options(write(tmp_path, "system-packages = 3\n"), environ={})
    with pytest.raises(ConfigError, match="MANYWHEEL_BUILD_ISOLATION"):
        load_options(write(tmp_path, ""), environ={"MANYWHEEL_BUILD_ISOLATION": "maybe"})


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.manywheel\nimage = 1\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: invalid TOML"):
        load_options(tmp_path, environ={})


def test_missing_build_requirements_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_options(write(tmp_path, 'build-requirements = "reqs.txt"\n'), environ={})
    assert "build-requirements" in info.value.message
    assert "reqs.txt" in info.value.message


def test_bad_python_selector(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown Python version 'python3'"):
        load_options(write(tmp_path, 'python = ["python3"]\n'), environ={})


def test_lists_tables_and_paths(tmp_path: Path) -> None:
    (tmp_path / "reqs.txt").write_text("numpy\n")
    project = write(
        tmp_path,
        'python = "3.13, 3.14"\nsystem-packages = "zlib1g-dev libffi-dev"\n'
        'build-requirements = "reqs.txt"\nenvironment = { CFLAGS = "-O2", N = 3 }\n'
        'source = ["/opt/intel/oneapi/setvars.sh --force"]\n'
        'setup-script = ["echo a", "echo b"]\n',
    )
    opts = load_options(project, environ={"MANYWHEEL_ENGINE_ARGS": "--network host --cpus 2"})
    assert opts.python == ("3.13", "3.14")
    assert opts.system_packages == ("zlib1g-dev", "libffi-dev")
    assert opts.build_requirements == tmp_path / "reqs.txt"
    assert opts.environment == (("CFLAGS", '"-O2"'), ("N", '"3"'))
    assert opts.source == ("/opt/intel/oneapi/setvars.sh --force",)
    assert opts.setup_script == "echo a\necho b"
    assert opts.engine_args == ("--network", "host", "--cpus", "2")


def test_environment_from_env_var(tmp_path: Path) -> None:
    text = "A=1 B=\"two $X\" C='lit $X' D=$(echo a b)"
    opts = load_options(write(tmp_path, ""), environ={"MANYWHEEL_ENVIRONMENT": text})
    # The words keep their quoting: the build exports them as a shell would read them.
    assert opts.environment == (
        ("A", "1"),
        ("B", '"two $X"'),
        ("C", "'lit $X'"),
        ("D", "$(echo a b)"),
    )
    script = "X=x; " + "; ".join(f"{k}={v}" for k, v in opts.environment) + '; echo "$B|$C|$D"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == "two x|lit $X|a b\n"


@pytest.mark.parametrize("text", ["A=1; rm -rf /", "A='open", "A=$(x", "NOVALUE", "1A=2"])
def test_environment_string_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_options(write(tmp_path, ""), environ={"MANYWHEEL_ENVIRONMENT": text})
    assert "MANYWHEEL_ENVIRONMENT" in str(info.value)


def test_secret_values(tmp_path: Path) -> None:
    opts = load_options(
        write(tmp_path, 'environment = { API_TOKEN = "s3cr3t", CFLAGS = "-O2" }\n'),
        environ={},
    )
    assert opts.secret_values() == ("s3cr3t",)
    assert opts.secret_names() == ("API_TOKEN",)
    both = replace(opts, secret_environment=("HOST_KEY", "API_TOKEN"))
    assert both.secret_names() == ("HOST_KEY", "API_TOKEN")


def test_choice_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_options(write(tmp_path, 'engine = "lxc"\n'), environ={})
    assert info.value.tip is not None
    assert "docker" in info.value.tip


@pytest.mark.parametrize(
    "args",
    [
        ["--label", "manywheel.run=other"],
        ["--cpus", "2", "-l", "manywheel.run=x"],
        ["--label=manywheel.run=x"],
        ["-lmanywheel.prepared=1"],
        ["-l=manywheel.key"],
    ],
)
def test_engine_args_may_not_set_manywheels_labels(tmp_path: Path, args: list[str]) -> None:
    project = write(tmp_path, f"engine-args = {args!r}\n".replace("'", '"'))
    with pytest.raises(ConfigError) as info:
        load_options(project, environ={})
    assert "pyproject.toml [tool.manywheel]: 'engine-args' sets the label 'manywheel." in (
        info.value.message
    )
    with pytest.raises(ConfigError, match="command line: 'engine-args'"):
        load_options(write(tmp_path, ""), environ={}, cli={"engine-args": args})


def test_other_labels_and_label_files_are_allowed(tmp_path: Path) -> None:
    args = ["--label", "team=x", "-l", "mine.manywheel.run=1", "--label-file", "labels.txt"]
    opts = load_options(write(tmp_path, ""), environ={}, cli={"engine-args": args})
    assert opts.engine_args == tuple(args)


def test_engine_args_from_the_projects_files_are_flagged(tmp_path: Path) -> None:
    project = write(tmp_path, 'engine-args = ["--volume", "/:/host"]\n')
    notes = load_options(project, environ={}).notes
    assert len(notes) == 1
    assert "pyproject.toml [tool.manywheel]: engine-args from the project's files: " in notes[0]
    assert "--volume /:/host (they apply to every build container;" in notes[0]
    assert "MANYWHEEL_ENGINE_ARGS" in notes[0]
    # The user's own: the environment or command line (which then win) are not flagged.
    env = {"MANYWHEEL_ENGINE_ARGS": "--cpus 2"}
    assert load_options(project, environ=env).notes == ()
    assert load_options(project, environ={}, cli={"engine-args": ["--cpus", "2"]}).notes == ()
    # A config file of the user's outside the project neither.
    mine = tmp_path.parent / f"{tmp_path.name}-mine.toml"
    mine.write_text('engine-args = ["--cpus", "2"]\n')
    assert load_options(write(tmp_path, ""), environ={}, config_file=mine).notes == ()


def test_cibuildwheel_create_args_still_work_and_are_flagged(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.cibuildwheel.linux]\ncontainer-engine = "docker; create_args: --network host"\n'
    )
    opts = load_options(tmp_path, environ={})
    assert opts.engine_args == ("--network", "host")
    assert any(
        "[tool.cibuildwheel.linux]: engine-args from the project's files" in n for n in opts.notes
    )


@pytest.mark.parametrize("image", ["img:1\nRUN touch /x", "two words", ""])
def test_image_must_be_one_reference(tmp_path: Path, image: str) -> None:
    """It is written into the exported Dockerfile's FROM line."""
    with pytest.raises(ConfigError, match="'image' is"):
        load_options(write(tmp_path, ""), environ={}, cli={"image": image})


def test_reproducible_is_on_unless_turned_off(tmp_path: Path) -> None:
    assert Options(tmp_path).reproducible is True
    assert Options(tmp_path).check_reproducible is False
    off = load_options(tmp_path, environ={"MANYWHEEL_REPRODUCIBLE": "false"})
    assert off.reproducible is False
    (tmp_path / "pyproject.toml").write_text("[tool.manywheel]\nreproducible = false\n")
    assert load_options(tmp_path, environ={}).reproducible is False
    assert load_options(tmp_path, cli={"reproducible": True}, environ={}).reproducible is True
    checked = load_options(tmp_path, environ={"MANYWHEEL_CHECK_REPRODUCIBLE": "1"})
    assert checked.check_reproducible is True


def test_builders_default_to_this_machines_engine(tmp_path: Path) -> None:
    assert Options(tmp_path).builders == ("local",)
    opts = load_options(write(tmp_path, ""), environ={})
    assert (opts.builders, opts.notes) == (("local",), ())
    assert load_options(tmp_path, environ={"MANYWHEEL_BUILDERS": "local"}).notes == ()


def test_builders_come_from_the_user(tmp_path: Path) -> None:
    project = write(tmp_path, "")
    env = {"MANYWHEEL_BUILDERS": "local, docker:arm-box ssh://me@x86.example"}
    opts = load_options(project, environ=env)
    assert opts.builders == ("local", "docker:arm-box", "ssh://me@x86.example")
    assert opts.notes == ()
    cli = load_options(project, environ=env, cli={"builders": "podman:box"})
    assert cli.builders == ("podman:box",)
    # A config file of the user's, outside the project.
    mine = tmp_path.parent / f"{tmp_path.name}-mine.toml"
    mine.write_text('builders = ["local", "tcp://127.0.0.1:2375"]\n')
    opts = load_options(project, environ={}, config_file=mine)
    assert opts.builders == ("local", "tcp://127.0.0.1:2375")


@pytest.mark.parametrize(
    ("where", "body"),
    [
        ("pyproject.toml", '[tool.manywheel]\nbuilders = ["ssh://me@evil.example"]\n'),
        ("manywheel.toml", 'builders = ["local", "docker:arm-box"]\n'),
        ("ci/manywheel.toml", 'builders = "local"\n'),  # given as --config-file
        ("pyproject.toml", '[[tool.manywheel.overrides]]\nselect = "*"\nbuilders = ["x"]\n'),
    ],
)
def test_builders_are_refused_from_the_projects_files(
    tmp_path: Path, where: str, body: str
) -> None:
    """They say which machines build with the user's credentials: a project cannot choose."""
    path = tmp_path / where
    path.parent.mkdir(exist_ok=True)
    path.write_text(body)
    config = path if where.startswith("ci/") else None
    with pytest.raises(ConfigError) as info:
        load_options(tmp_path, environ={}, config_file=config)
    assert info.value.message.startswith(f"{path}")
    assert "'builders' cannot be set in the project's files: it says which machines build" in (
        info.value.message
    )
    assert info.value.tip == (
        "remove it there, and set it with --builders, MANYWHEEL_BUILDERS or in a config file "
        "of yours outside the project (--config-file)"
    )


def test_the_days_every_projects_caches_are_kept_are_refused_from_the_projects_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.manywheel]\ncache-keep-days = 1\n")
    with pytest.raises(ConfigError) as info:
        load_options(tmp_path, environ={})
    assert "'cache-keep-days' cannot be set in the project's files: it decides when every " in (
        info.value.message
    )
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    assert load_options(tmp_path, environ={"MANYWHEEL_CACHE_KEEP_DAYS": "7"}).cache_keep_days == 7
    assert load_options(tmp_path, environ={}).cache_keep_days == 30


def test_a_builder_that_is_not_one_is_named_with_where_it_was_set(tmp_path: Path) -> None:
    project = write(tmp_path, "")
    with pytest.raises(ConfigError) as info:
        load_options(project, environ={}, cli={"builders": "local tcp://10.0.0.5"})
    assert info.value.message == "command line: 'builders': tcp://10.0.0.5 has no port"
    with pytest.raises(ConfigError, match=r"^environment: 'builders': podman:tcp://10\.0\.0\.5:8"):
        load_options(project, environ={"MANYWHEEL_BUILDERS": "podman:tcp://10.0.0.5:8888"})
    with pytest.raises(ConfigError, match="engine = 'host' builds on this machine"):
        load_options(project, environ={}, cli={"engine": "host", "builders": "local arm-box"})


def test_a_relative_config_file_in_the_project_is_the_projects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ci.toml").write_text(
        'builders = ["local", "arm-box"]\nengine-args = ["-v", "/:/h"]\n'
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^ci\.toml: 'builders' cannot be set in the project's"):
        load_options(tmp_path, environ={}, config_file=Path("ci.toml"))
    (tmp_path / "ci.toml").write_text('engine-args = ["-v", "/:/h"]\n')
    notes = load_options(tmp_path, environ={}, config_file=Path("ci.toml")).notes
    assert notes[0].startswith("ci.toml: engine-args from the project's files: -v /:/h")
