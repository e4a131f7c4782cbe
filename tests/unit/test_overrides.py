"""Overrides: per-target options, in their place among the layers, with inherit rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from manywheel import ConfigError, Options, load_options

CP313 = "cp313-manylinux_x86_64"
CP314 = "cp314-manylinux_x86_64"
MUSL = "cp314-musllinux_x86_64"


def project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n\n' + body)
    return tmp_path


CIBW = """
[tool.cibuildwheel]
test-command = "pytest"
test-requires = ["pytest"]
environment = { A = "1" }

[tool.cibuildwheel.linux]
inherit.environment = "append"
environment = { B = "2" }

[[tool.cibuildwheel.overrides]]
select = "cp313-*"
test-command = "pytest -p no:cacheprovider"
inherit.test-requires = "append"
test-requires = "numpy"

[[tool.cibuildwheel.overrides]]
select = ["*-musllinux_*", "cp312-*"]
before-all = "apk add zlib-dev"
inherit.environment = "prepend"
environment = "C=3"
"""


def test_cibuildwheel_overrides_apply_to_the_targets_they_select(tmp_path: Path) -> None:
    opts = load_options(project(tmp_path, CIBW), environ={})
    assert opts.environment == (("A", '"1"'), ("B", '"2"'))  # the linux table appended
    assert (opts.test_command, opts.test_requires) == ("pytest", ("pytest",))
    cp313 = opts.for_target(CP313)
    assert cp313.test_command == "pytest -p no:cacheprovider"
    assert cp313.test_requires == ("pytest", "numpy")
    assert opts.for_target(CP314) is opts  # nothing selects it
    musl = opts.for_target(MUSL)
    assert musl.setup_script == "apk add zlib-dev"
    assert musl.environment == (("C", "3"), ("A", '"1"'), ("B", '"2"'))
    assert musl.test_command == "pytest"


def test_variables_and_the_command_line_win_over_overrides(tmp_path: Path) -> None:
    path = project(tmp_path, CIBW)
    opts = load_options(path, environ={"CIBW_TEST_COMMAND": "echo ci"})
    assert opts.for_target(CP313).test_command == "echo ci"
    opts = load_options(path, environ={}, cli={"test-requires": "hypothesis"})
    assert opts.for_target(CP313).test_requires == ("hypothesis",)
    # An override of a later layer (manywheel.toml) wins over the earlier layers.
    (path / "manywheel.toml").write_text(
        'test-command = "base"\n[[overrides]]\nselect = "cp313-*"\ntest-command = "toml"\n'
    )
    opts = load_options(path, environ={})
    assert opts.test_command == "base"
    assert opts.for_target(CP313).test_command == "toml"
    assert opts.for_target(CP314).test_command == "base"


def test_manywheel_overrides(tmp_path: Path) -> None:
    body = """
[tool.manywheel]
before-build = "echo base"
test-requires = ["pytest"]

[[tool.manywheel.overrides]]
select = "cp31{3,4}-*"
inherit = { before-build = "append", test-requires = "prepend" }
before-build = "echo more"
test-requires = ["numpy"]
config-settings = { setup-args = ["-Da=1", "-Db=2"] }
"""
    opts = load_options(project(tmp_path, body), environ={})
    cp313 = opts.for_target(CP313)
    assert cp313.before_build == "{ echo base\n} && { echo more\n}"
    assert cp313.test_requires == ("numpy", "pytest")
    assert cp313.config_settings == (("setup-args", "-Da=1"), ("setup-args", "-Db=2"))
    assert opts.for_target("cp312-manylinux_x86_64") is opts


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[tool.manywheel.overrides]]\nselect = "cp313-*"\nimage = "x"\n',
         "overrides #1: 'image' is the same for every target of a run"),
        ("[[tool.manywheel.overrides]]\ntest-command = 'x'\n",
         "overrides #1: 'select' must be an identifier glob"),
        ('[[tool.manywheel.overrides]]\nselect = "*"\ninherit = { build-command = "append" }\n'
         'build-command = "x"\n', "'build-command' cannot inherit"),
        ('[[tool.manywheel.overrides]]\nselect = "*"\ninherit = { test-command = "merge" }\n',
         "'inherit' of 'test-command' is 'merge'"),
        ('[[tool.manywheel.overrides]]\nselect = "*"\nbuild-requirements = "missing.txt"\n',
         "overrides #1: 'build-requirements' names"),
        ('[[tool.manywheel.overrides]]\nselect = "*"\ntest-comand = "x"\n',
         "unknown key 'test-comand'"),
        ('[[tool.cibuildwheel.overrides]]\ntest-command = "x"\n', "'select' must be set"),
        ('[tool.cibuildwheel]\ninherit = { build = "append" }\n', "'build', which cannot inherit"),
    ],
)  # fmt: skip
def test_bad_overrides_are_named(tmp_path: Path, body: str, message: str) -> None:
    if body.startswith("[[tool.manywheel"):
        body = "[tool.manywheel]\n" + body
    with pytest.raises(ConfigError) as info:
        load_options(project(tmp_path, body), environ={})
    assert message in info.value.message


def test_a_cibuildwheel_override_of_an_image_is_named(tmp_path: Path) -> None:
    body = (
        '[tool.cibuildwheel]\n[[tool.cibuildwheel.overrides]]\nselect = "cp313-*"\n'
        'manylinux-x86_64-image = "manylinux2014"\n'
        'container-engine = { name = "podman", create-args = ["--cpus", "1"] }\n'
    )
    opts = load_options(project(tmp_path, body), environ={})
    assert opts.for_target(CP313).engine_args == ("--cpus", "1")
    assert opts.engine == "auto"
    assert [n.split(": ", 1)[1] for n in opts.notes if "ignored" in n] == [
        "ignored manylinux-x86_64-image in an override (one engine for the run; images are "
        "chosen per platform)",
        "ignored engine in an override (one engine for the run; images are chosen per platform)",
    ]


def test_selection_keys_in_a_cibuildwheel_override_are_named_not_refused(tmp_path: Path) -> None:
    """cibuildwheel selects once for the run and ignores these in an override; so does manywheel
    (in [tool.manywheel] overrides, a run-wide option stays an error: test_bad_overrides_are_named)."""
    body = (
        '[tool.cibuildwheel]\nskip = "pp*"\n[[tool.cibuildwheel.overrides]]\nselect = "cp313-*"\n'
        'skip = "cp313-*"\nenable = ["pypy"]\ntest-command = "true"\n'
    )
    opts = load_options(project(tmp_path, body), environ={})
    assert (opts.skip, opts.enable) == (("pp*",), ())
    assert opts.for_target(CP313).test_command == "true"
    notes = [n.split(": ", 1)[1] for n in opts.notes]
    assert notes == [
        f"ignored {key} in an override (the selection is made once for the run, as in "
        "cibuildwheel; set it in [tool.cibuildwheel])"
        for key in ("skip", "enable")
    ]


def test_options_made_directly_have_no_overrides(tmp_path: Path) -> None:
    opts = Options(tmp_path, test_command="pytest")
    assert opts.for_target(CP313) is opts
