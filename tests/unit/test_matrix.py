"""Which images a run builds in (``_config/matrix``): one ``image``, or the (libc, arch)
platforms of ``archs``, ``libc`` and the per-platform image keys; read from files, the
environment and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from manywheel import ConfigError, Options, load_options
from manywheel._cli import main as cli
from manywheel._cli.main import _cli_values, main, make_parser
from manywheel._config.matrix import ImageSpec, image_specs, short_image
from manywheel._config.registry import DEFAULT_IMAGE
from manywheel._events import Listener
from manywheel._model import BuildImage, ImageFacts, Plan, Target

Q = "quay.io/pypa"


def specs(
    archs: tuple[str, ...] = (),
    libcs: tuple[str, ...] = (),
    keys: dict[tuple[str, str], tuple[str, ...]] | None = None,
    image: str = DEFAULT_IMAGE,
    **kw: object,
) -> tuple[ImageSpec, ...]:
    return image_specs(archs, libcs, keys or {}, image, machine="x86_64", **kw)  # type: ignore[arg-type]


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n\n[tool.manywheel]\n' + body
    )
    return tmp_path


# -- image_specs ----------------------------------------------------------------------------


def test_nothing_set_is_the_one_image_as_before_the_matrix() -> None:
    assert specs() == (ImageSpec(DEFAULT_IMAGE, "image"),)
    assert specs(image="my/img:1") == (ImageSpec("my/img:1", "image"),)
    (only,) = specs(image="my/img:1")
    assert (only.libc, only.arch, only.policy, only.platform) == (None, None, None, None)
    # Keys set to nothing (an empty list) are not set.
    assert specs(keys={("manylinux", "aarch64"): ()}) == (ImageSpec(DEFAULT_IMAGE, "image"),)


def test_archs_alone_build_manylinux_in_the_default_images() -> None:
    found = specs(("x86_64", "i686", "aarch64", "armv7l", "riscv64", "ppc64le", "s390x"))
    assert found == (
        ImageSpec(f"{Q}/manylinux_2_34_x86_64", "manylinux-x86_64-image",
                  "manylinux", "x86_64", "manylinux_2_34"),
        ImageSpec(f"{Q}/manylinux_2_34_i686", "manylinux-i686-image",
                  "manylinux", "i686", "manylinux_2_34"),
        ImageSpec(f"{Q}/manylinux_2_34_aarch64", "manylinux-aarch64-image",
                  "manylinux", "aarch64", "manylinux_2_34"),
        ImageSpec(f"{Q}/manylinux_2_35_armv7l", "manylinux-armv7l-image",
                  "manylinux", "armv7l", "manylinux_2_35"),
        ImageSpec(f"{Q}/manylinux_2_39_riscv64", "manylinux-riscv64-image",
                  "manylinux", "riscv64", "manylinux_2_39"),
        ImageSpec(f"{Q}/manylinux_2_34_ppc64le", "manylinux-ppc64le-image",
                  "manylinux", "ppc64le", "manylinux_2_34"),
        ImageSpec(f"{Q}/manylinux_2_34_s390x", "manylinux-s390x-image",
                  "manylinux", "s390x", "manylinux_2_34"),
    )  # fmt: skip
    assert [s.platform for s in found[:2]] == ["manylinux_x86_64", "manylinux_i686"]


def test_libc_times_archs_libc_first() -> None:
    found = specs(("x86_64", "aarch64"), ("manylinux", "musllinux"))
    assert [(s.platform, s.image, s.policy) for s in found] == [
        ("manylinux_x86_64", f"{Q}/manylinux_2_34_x86_64", "manylinux_2_34"),
        ("manylinux_aarch64", f"{Q}/manylinux_2_34_aarch64", "manylinux_2_34"),
        ("musllinux_x86_64", f"{Q}/musllinux_1_2_x86_64", "musllinux_1_2"),
        ("musllinux_aarch64", f"{Q}/musllinux_1_2_aarch64", "musllinux_1_2"),
    ]
    assert found[2].key == "musllinux-x86_64-image"
    assert [s.platform for s in specs(("auto32",), ("musllinux",))] == ["musllinux_i686"]


def test_libc_alone_builds_for_this_machines_arch() -> None:
    assert [s.platform for s in specs(libcs=("musllinux",))] == ["musllinux_x86_64"]
    both = image_specs((), ("manylinux", "musllinux"), {}, DEFAULT_IMAGE, machine="aarch64")
    assert [(s.platform, s.image) for s in both] == [
        ("manylinux_aarch64", f"{Q}/manylinux_2_34_aarch64"),
        ("musllinux_aarch64", f"{Q}/musllinux_1_2_aarch64"),
    ]


def test_keys_alone_give_the_archs_and_libcs() -> None:
    only_aarch64 = specs(keys={("manylinux", "aarch64"): ("my/arm:1",)})
    assert only_aarch64 == (
        ImageSpec("my/arm:1", "manylinux-aarch64-image", "manylinux", "aarch64", None),
    )
    musl = specs(keys={("musllinux", "i686"): ("musllinux_1_1",)})
    assert musl == (
        ImageSpec(f"{Q}/musllinux_1_1_i686", "musllinux-i686-image",
                  "musllinux", "i686", "musllinux_1_1"),
    )  # fmt: skip
    # Two keys: just their two platforms, not their archs times their libcs.
    both = specs(keys={("manylinux", "aarch64"): ("a:1",), ("musllinux", "x86_64"): ("m:1",)})
    assert [(s.platform, s.image) for s in both] == [
        ("manylinux_aarch64", "a:1"),
        ("musllinux_x86_64", "m:1"),
    ]
    # With libc (or archs) set, the product again, the keys filling their platforms.
    product = specs(
        libcs=("manylinux", "musllinux"),
        keys={("manylinux", "aarch64"): ("a:1",), ("musllinux", "x86_64"): ("m:1",)},
    )
    assert [(s.platform, s.image) for s in product] == [
        ("manylinux_aarch64", "a:1"),
        ("manylinux_x86_64", f"{Q}/manylinux_2_34_x86_64"),
        ("musllinux_aarch64", f"{Q}/musllinux_1_2_aarch64"),
        ("musllinux_x86_64", "m:1"),
    ]


def test_archs_limit_the_keys_and_keys_fill_their_platform() -> None:
    keys = {("manylinux", "aarch64"): ("a:1",), ("manylinux", "i686"): ("i:1",)}
    found = specs(("aarch64", "x86_64"), keys=keys)
    assert [(s.key, s.image) for s in found] == [
        ("manylinux-aarch64-image", "a:1"),
        ("manylinux-x86_64-image", f"{Q}/manylinux_2_34_x86_64"),
    ]  # i686 is not in archs


def test_several_images_in_one_key() -> None:
    keys = {("manylinux", "x86_64"): ("manylinux2014", "manylinux_2_28", "mine:1", "manylinux2014")}
    found = specs(keys=keys)
    assert [(s.image, s.policy) for s in found] == [
        (f"{Q}/manylinux2014_x86_64", "manylinux2014"),
        (f"{Q}/manylinux_2_28_x86_64", "manylinux_2_28"),
        ("mine:1", None),
    ]  # a repeated one counted once
    assert {s.key for s in found} == {"manylinux-x86_64-image"}


@pytest.mark.parametrize(
    ("name", "arch", "ref", "policy"),
    [
        ("manylinux1", "x86_64", f"{Q}/manylinux1_x86_64", "manylinux1"),
        ("manylinux2010", "i686", f"{Q}/manylinux2010_i686", "manylinux2010"),
        ("manylinux2014", "aarch64", f"{Q}/manylinux2014_aarch64", "manylinux2014"),
        ("manylinux_2_28", "ppc64le", f"{Q}/manylinux_2_28_ppc64le", "manylinux_2_28"),
        ("musllinux_1_2", "armv7l", f"{Q}/musllinux_1_2_armv7l", "musllinux_1_2"),
        ("musllinux_1_10", "s390x", f"{Q}/musllinux_1_10_s390x", "musllinux_1_10"),
        # references stay as written
        (f"{Q}/manylinux_2_28_x86_64", "x86_64", f"{Q}/manylinux_2_28_x86_64", None),
        ("manylinux_2_28_x86_64", "x86_64", "manylinux_2_28_x86_64", None),
        ("manylinux2015", "x86_64", "manylinux2015", None),
        ("ghcr.io/me/manylinux_2_28:1", "aarch64", "ghcr.io/me/manylinux_2_28:1", None),
    ],
)
def test_short_names(name: str, arch: str, ref: str, policy: str | None) -> None:
    assert short_image(name, arch) == (ref, policy)


def test_a_changed_image_is_manylinux_on_this_machines_arch() -> None:
    found = specs(("x86_64", "aarch64"), ("manylinux", "musllinux"), image="my/x86:1")
    assert [(s.platform, s.key, s.image) for s in found] == [
        ("manylinux_x86_64", "image", "my/x86:1"),
        ("manylinux_aarch64", "manylinux-aarch64-image", f"{Q}/manylinux_2_34_aarch64"),
        ("musllinux_x86_64", "musllinux-x86_64-image", f"{Q}/musllinux_1_2_x86_64"),
        ("musllinux_aarch64", "musllinux-aarch64-image", f"{Q}/musllinux_1_2_aarch64"),
    ]
    assert found[0].policy is None
    # On an aarch64 machine it stands for aarch64.
    on_arm = image_specs(("x86_64", "aarch64"), (), {}, "my/arm:1", machine="aarch64")
    assert [(s.arch, s.key, s.image) for s in on_arm] == [
        ("x86_64", "manylinux-x86_64-image", f"{Q}/manylinux_2_34_x86_64"),
        ("aarch64", "image", "my/arm:1"),
    ]
    # The platform's own key wins over it.
    keyed = specs(("x86_64",), keys={("manylinux", "x86_64"): ("manylinux_2_28",)}, image="i:1")
    assert [(s.key, s.image) for s in keyed] == [
        ("manylinux-x86_64-image", f"{Q}/manylinux_2_28_x86_64")
    ]
    # A foreign matrix: image is not used.
    assert [s.image for s in specs(("aarch64",), image="my/x86:1")] == [
        f"{Q}/manylinux_2_34_aarch64"
    ]


def test_source_defaults_fill_unset_keys_only() -> None:
    cibw = {
        "manylinux-x86_64-image": "manylinux_2_28",
        "manylinux-aarch64-image": "manylinux_2_28",
        "manylinux-i686-image": "manylinux_2_28",
        "musllinux-x86_64-image": "musllinux_1_2",
    }
    keys = {("manylinux", "aarch64"): ("manylinux2014",)}
    found = specs(("x86_64", "aarch64", "i686"), ("manylinux", "musllinux"), keys, defaults=cibw)
    assert [(s.platform, s.image) for s in found] == [
        ("manylinux_x86_64", f"{Q}/manylinux_2_28_x86_64"),
        ("manylinux_aarch64", f"{Q}/manylinux2014_aarch64"),  # the key set wins
        ("manylinux_i686", f"{Q}/manylinux_2_28_i686"),
        ("musllinux_x86_64", f"{Q}/musllinux_1_2_x86_64"),
        ("musllinux_aarch64", f"{Q}/musllinux_1_2_aarch64"),  # no default given: manywheel's
        ("musllinux_i686", f"{Q}/musllinux_1_2_i686"),
    ]
    # A changed image wins over the source's default for manylinux on this machine.
    mine = specs(("x86_64",), keys={}, image="mine:1", defaults=cibw)
    assert [(s.key, s.image) for s in mine] == [("image", "mine:1")]


@pytest.mark.parametrize(
    ("keys", "message", "tip"),
    [
        ({("manylinux", "x86_64"): ("musllinux_1_2",)},
         "'manylinux-x86_64-image' is 'musllinux_1_2', a musllinux image",
         "name a manylinux image for manylinux-x86_64-image"),
        ({("musllinux", "aarch64"): ("manylinux_2_28",)},
         "'musllinux-aarch64-image' is 'manylinux_2_28', a manylinux image",
         "name a musllinux image for musllinux-aarch64-image"),
        ({("musllinux", "i686"): ("musllinux_1_2", "manylinux2014")},
         "'musllinux-i686-image' is 'manylinux2014', a manylinux2014 image",
         "name a musllinux image for musllinux-i686-image"),
    ],
)  # fmt: skip
def test_a_short_name_of_the_other_libc_is_refused(
    keys: dict[tuple[str, str], tuple[str, ...]], message: str, tip: str
) -> None:
    with pytest.raises(ConfigError) as info:
        specs(keys=keys, where="here")
    assert info.value.message == f"here: {message}"
    assert info.value.tip == tip


def test_image_as_a_short_name_of_the_other_libc_is_refused() -> None:
    with pytest.raises(ConfigError, match="'image' is 'musllinux_1_2', a musllinux image"):
        specs(("x86_64",), image="musllinux_1_2")


def test_unknown_archs_and_libcs() -> None:
    with pytest.raises(ConfigError) as info:
        specs(("x86_64", "mips"))
    assert info.value.message == "configuration: 'archs' has unknown architecture 'mips'"
    assert "auto64" in (info.value.tip or "")
    with pytest.raises(ConfigError) as info:
        specs(("x86_64",), ("manylinux", "glibc"), where="f.toml")
    assert info.value.message == "f.toml: 'libc' has unknown value 'glibc'"
    assert info.value.tip == "use manylinux (glibc) and/or musllinux"


# -- through load_options --------------------------------------------------------------------


def test_options_read_archs_libc_and_keys_from_the_project(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        'archs = ["x86_64", "aarch64"]\nlibc = "manylinux musllinux"\n'
        'manylinux-aarch64-image = ["manylinux_2_28", "manylinux2014"]\n'
        'musllinux-x86_64-image = "musllinux_1_1 ghcr.io/me/musl:1"\n',
    )
    opts = load_options(project, environ={})
    assert opts.archs == ("x86_64", "aarch64")
    assert opts.libc == ("manylinux", "musllinux")
    assert opts.image_keys() == {
        ("manylinux", "aarch64"): ("manylinux_2_28", "manylinux2014"),
        ("musllinux", "x86_64"): ("musllinux_1_1", "ghcr.io/me/musl:1"),
    }
    found = opts.image_specs()
    assert [(s.key, s.image) for s in found] == [
        ("manylinux-x86_64-image", f"{Q}/manylinux_2_34_x86_64"),
        ("manylinux-aarch64-image", f"{Q}/manylinux_2_28_aarch64"),
        ("manylinux-aarch64-image", f"{Q}/manylinux2014_aarch64"),
        ("musllinux-x86_64-image", f"{Q}/musllinux_1_1_x86_64"),
        ("musllinux-x86_64-image", "ghcr.io/me/musl:1"),
        ("musllinux-aarch64-image", f"{Q}/musllinux_1_2_aarch64"),
    ]


def test_plain_options_are_one_image(tmp_path: Path) -> None:
    assert Options(tmp_path).image_specs() == (ImageSpec(DEFAULT_IMAGE, "image"),)
    assert Options(tmp_path).image_keys() == {}
    assert load_options(write(tmp_path, 'image = "mine:1"\n'), environ={}).image_specs() == (
        ImageSpec("mine:1", "image"),
    )


def test_an_unknown_arch_names_the_file_and_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_options(write(tmp_path, 'archs = ["x86_64", "sparc"]\n'), environ={})
    assert info.value.message == (
        f"{tmp_path / 'pyproject.toml'} [tool.manywheel]: 'archs' has unknown architecture 'sparc'"
    )
    assert info.value.exit_code == 2


def test_an_unknown_libc_names_the_file_and_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_options(write(tmp_path, 'libc = ["glibc"]\n'), environ={})
    assert info.value.message == (
        f"{tmp_path / 'pyproject.toml'} [tool.manywheel]: 'libc' has unknown value 'glibc'"
    )
    # ...also when archs comes from somewhere else
    with pytest.raises(ConfigError) as info:
        load_options(write(tmp_path, 'libc = ["glibc"]\n'), environ={"MANYWHEEL_ARCHS": "i686"})
    assert info.value.message.startswith(f"{tmp_path / 'pyproject.toml'} [tool.manywheel]: ")


def test_an_image_key_of_the_other_libc_names_the_file_and_the_key(tmp_path: Path) -> None:
    project = write(tmp_path, 'archs = ["aarch64"]\n')
    (project / "manywheel.toml").write_text('manylinux-aarch64-image = "musllinux_1_2"\n')
    with pytest.raises(ConfigError) as info:
        load_options(project, environ={})
    assert info.value.message == (
        f"{project / 'manywheel.toml'}: 'manylinux-aarch64-image' is 'musllinux_1_2', "
        "a musllinux image"
    )


def test_archs_from_the_environment(tmp_path: Path) -> None:
    project = write(tmp_path, 'archs = ["x86_64"]\n')
    opts = load_options(project, environ={"MANYWHEEL_ARCHS": "aarch64,i686"})
    assert opts.archs == ("aarch64", "i686")
    assert [s.key for s in opts.image_specs()] == [
        "manylinux-aarch64-image",
        "manylinux-i686-image",
    ]
    env = {"MANYWHEEL_MANYLINUX_AARCH64_IMAGE": "a:1 a:2", "MANYWHEEL_LIBC": "manylinux"}
    opts = load_options(write(tmp_path, ""), environ=env)
    assert [(s.platform, s.image) for s in opts.image_specs()] == [
        ("manylinux_aarch64", "a:1"),
        ("manylinux_aarch64", "a:2"),
    ]
    with pytest.raises(ConfigError, match=r"^environment: 'archs' has unknown architecture 'z80'"):
        load_options(project, environ={"MANYWHEEL_ARCHS": "z80"})


def test_archs_and_image_keys_from_the_command_line(tmp_path: Path) -> None:
    ns = make_parser().parse_args(
        ["build", "--archs", "x86_64", "--archs", "aarch64", "--libc", "musllinux",
         "--manylinux-aarch64-image", "a:1", "--manylinux-aarch64-image", "manylinux_2_28",
         "--musllinux-x86_64-image", "musllinux_1_1"]
    )  # fmt: skip
    values = _cli_values(ns)
    assert values == {
        "archs": "x86_64 aarch64",
        "libc": "musllinux",
        "manylinux-aarch64-image": "a:1 manylinux_2_28",
        "musllinux-x86_64-image": "musllinux_1_1",
    }
    opts = load_options(write(tmp_path, 'archs = ["riscv64"]\n'), environ={}, cli=values)
    assert opts.archs == ("x86_64", "aarch64")
    assert [(s.platform, s.image) for s in opts.image_specs()] == [
        ("musllinux_x86_64", f"{Q}/musllinux_1_1_x86_64"),
        ("musllinux_aarch64", f"{Q}/musllinux_1_2_aarch64"),
    ]
    with pytest.raises(ConfigError, match=r"^command line: 'archs' has unknown architecture 'x'"):
        load_options(tmp_path, environ={}, cli={"archs": "x"})


def test_main_hands_the_matrix_flags_to_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Options] = []
    target = Target("cp313-manylinux_aarch64", "3.13.1", False, "/p", "manylinux_aarch64", "a:1")
    facts = ImageFacts("manylinux_aarch64", "", None, "bash", (target,))

    def plan(options: Options, listener: Listener) -> Plan:
        seen.append(options)
        return Plan((BuildImage("a:1", "sha256:1", facts, "aarch64", "x"),), (target,))

    monkeypatch.setattr(cli, "plan", plan)
    project = write(tmp_path, "")
    assert (
        main(["plan", str(project), "--archs", "aarch64", "--manylinux-aarch64-image", "a:1"]) == 0
    )
    assert [(s.platform, s.image) for s in seen[0].image_specs()] == [("manylinux_aarch64", "a:1")]
    out = capsys.readouterr().out
    assert "  archs = ('aarch64',)" in out
    assert "  manylinux-aarch64-image = ('a:1',)" in out
    assert main(["plan", str(project), "--archs", "vax"]) == 2
    assert "'archs' has unknown architecture 'vax'" in capsys.readouterr().err
