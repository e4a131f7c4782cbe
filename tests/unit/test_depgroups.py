"""Dependency groups (PEP 735) for test-groups, against the reference implementation."""

from __future__ import annotations

from pathlib import Path

import dependency_groups
import pytest

from manywheel import ConfigError, load_options
from manywheel._config.depgroups import group_requirements, resolve_groups

TABLE = {
    "test": ["pytest>=8", {"include-group": "Typing"}, "hypothesis"],
    "typing": ["mypy", {"include-group": "base"}],
    "base": ["packaging", "pytest>=8"],
    "docs": ["sphinx"],
}


@pytest.mark.parametrize("groups", [("test",), ("docs", "test"), ("typing",), ("base", "docs")])
def test_groups_resolve_as_the_reference_resolves_them(groups: tuple[str, ...]) -> None:
    expected = tuple(dict.fromkeys(dependency_groups.resolve(TABLE, *groups)))
    assert resolve_groups(TABLE, groups, "p") == expected


@pytest.mark.parametrize(
    ("table", "groups", "message"),
    [
        (TABLE, ("lint",), "test-groups names 'lint', which [dependency-groups] does not have"),
        ({"a": [{"include-group": "b"}], "b": [{"include-group": "a"}]}, ("a",), "include cycle: a -> b -> a"),
        ({"a": "pytest"}, ("a",), "'a' must be a list"),
        ({"a": [3]}, ("a",), "neither a requirement nor an include-group"),
        ({"A_b": [], "a-B": []}, ("a-b",), "has 'a-B' twice"),
    ],
)  # fmt: skip
def test_bad_groups_are_named(
    table: dict[str, object], groups: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_groups(table, groups, "pyproject.toml")
    assert message in info.value.message


def test_groups_are_read_from_the_projects_pyproject(tmp_path: Path) -> None:
    assert group_requirements(tmp_path, ()) == ()
    with pytest.raises(ConfigError, match=r"no pyproject\.toml"):
        group_requirements(tmp_path, ("dev",))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"there is no \[dependency-groups\] table"):
        group_requirements(tmp_path, ("dev",))
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[dependency-groups]\ndev = ["pytest"]\n'
        '[tool.cibuildwheel]\ntest-groups = ["dev"]\n'
    )
    assert group_requirements(tmp_path, ("dev",)) == ("pytest",)
    assert load_options(tmp_path, environ={}).test_groups == ("dev",)
    # A group the project lacks is a configuration error before anything is built.
    with pytest.raises(ConfigError, match="'docs', which"):
        load_options(tmp_path, environ={"CIBW_TEST_GROUPS": "docs"})
    with pytest.raises(ConfigError, match="'test-sources' names tests, which is not in the"):
        load_options(tmp_path, environ={"CIBW_TEST_SOURCES": "tests"})
