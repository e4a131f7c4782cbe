from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from manywheel import OutputError
from manywheel._engines.transfer import _safe_wheel_name
from manywheel._model import Target
from manywheel._output import check_wheel, publish

T313 = Target("cp313-manylinux_x86_64", "3.13.1", False, "/p")


def make_wheel(path: Path, dist_info: str = "pkg-1.0.dist-info") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\n")
        zf.writestr(f"{dist_info}/RECORD", "")
    return path


@pytest.mark.parametrize(
    "name",
    [
        "pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pkg-1.0-cp312-abi3-manylinux_2_34_x86_64.whl",
        "pkg-1.0-py3-none-any.whl",
    ],
)
def test_good_wheels(tmp_path: Path, name: str) -> None:
    info = check_wheel(make_wheel(tmp_path / name), T313, repaired=True)
    assert not isinstance(info, str), info


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("pkg-1.0-cp314-cp314-manylinux_2_34_x86_64.whl", "do not fit target"),
        ("pkg-1.0-cp313-cp313-linux_x86_64.whl", "do not fit target"),  # not repaired
        ("pkg-1.0-cp313-cp313-manylinux_2_34_aarch64.whl", "do not fit target"),
        ("not-a-wheel.whl", "invalid wheel file name"),
    ],
)
def test_bad_wheels(tmp_path: Path, name: str, reason: str) -> None:
    result = check_wheel(make_wheel(tmp_path / name), T313, repaired=True)
    assert isinstance(result, str)
    assert reason in result


def test_unrepaired_allowed_when_repair_is_off(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "pkg-1.0-cp313-cp313-linux_x86_64.whl")
    assert not isinstance(check_wheel(wheel, T313, repaired=False), str)


def test_not_a_zip(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg-1.0-cp313-cp313-manylinux_2_34_x86_64.whl"
    wheel.write_bytes(b"MZ not a zip")
    result = check_wheel(wheel, T313, repaired=True)
    assert isinstance(result, str)
    assert "not a valid wheel archive" in result


@pytest.mark.parametrize(
    ("member", "ok"),
    [
        ("./a-1-py3-none-any.whl", True),
        ("a-1-py3-none-any.whl", True),
        ("../x.whl", False),
        ("/etc/x.whl", False),
        ("./sub/x.whl", False),
        ("./.hidden.whl", False),
        ("./notes.txt", False),
    ],
)
def test_safe_names(member: str, ok: bool) -> None:
    assert (_safe_wheel_name(member) is not None) == ok


def test_publish_is_all_or_nothing_on_error(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    good = make_wheel(staging / "pkg-1.0-py3-none-any.whl")
    missing = staging / "gone-1.0-py3-none-any.whl"
    out = tmp_path / "dist"
    out.mkdir()
    (out / "old.whl").write_text("keep me")
    with pytest.raises(OutputError) as info:
        publish([good, missing], out, staging)
    assert sorted(os.listdir(out)) == ["old.whl"]
    assert str(staging) in (info.value.tip or "")
    assert good.exists()


def test_publish_moves_with_normal_permissions(tmp_path: Path) -> None:
    staging = tmp_path / "s"
    staging.mkdir()
    wheel = make_wheel(staging / "pkg-1.0-py3-none-any.whl")
    (done,) = publish([wheel], tmp_path / "dist", staging)
    assert done.read_bytes() == wheel.read_bytes()
    assert done.stat().st_mode & 0o044 == 0o044  # readable by others, like any build output


I686 = Target("cp313-manylinux_i686", "3.13.1", False, "/p", "manylinux_i686")
MUSL = Target("cp313-musllinux_x86_64", "3.13.1", False, "/p", "musllinux_x86_64")
ARM = Target("cp313-manylinux_aarch64", "3.13.1", False, "/p", "manylinux_aarch64")
# Two aarch64 images in the matrix: the identifier names the policy, the platform does not.
ARM_228 = Target("cp313-manylinux_2_28_aarch64", "3.13.1", False, "/p", "manylinux_aarch64")


@pytest.mark.parametrize(
    ("target", "name", "repaired", "fits"),
    [
        (I686, "pkg-1.0-cp313-cp313-manylinux_2_17_i686.manylinux2014_i686.whl", True, True),
        (I686, "pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.whl", True, False),
        (I686, "pkg-1.0-cp313-cp313-linux_i686.whl", False, True),
        (I686, "pkg-1.0-cp313-cp313-linux_x86_64.whl", False, False),
        (I686, "pkg-1.0-cp313-cp313-musllinux_1_2_i686.whl", True, False),
        (T313, "pkg-1.0-cp313-cp313-musllinux_1_2_x86_64.whl", True, False),
        (T313, "pkg-1.0-cp313-cp313-manylinux_2_17_i686.whl", True, False),
        (MUSL, "pkg-1.0-cp313-cp313-musllinux_1_2_x86_64.whl", True, True),
        (MUSL, "pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.whl", True, False),
        (MUSL, "pkg-1.0-cp313-cp313-linux_x86_64.whl", False, True),
        (MUSL, "pkg-1.0-py3-none-any.whl", True, True),
        (ARM, "pkg-1.0-cp313-cp313-manylinux_2_28_aarch64.whl", True, True),
        (ARM, "pkg-1.0-cp313-cp313-manylinux_2_28_x86_64.whl", True, False),
        (ARM, "pkg-1.0-cp312-abi3-manylinux_2_28_aarch64.whl", True, True),
        (ARM_228, "pkg-1.0-cp313-cp313-manylinux_2_28_aarch64.whl", True, True),
        (ARM_228, "pkg-1.0-cp313-cp313-manylinux2014_aarch64.whl", True, True),
        (ARM_228, "pkg-1.0-cp313-cp313-manylinux_2_28_x86_64.whl", True, False),
        (ARM_228, "pkg-1.0-cp313-cp313-musllinux_1_2_aarch64.whl", True, False),
    ],
)
def test_wheels_fit_their_targets_libc_and_arch(
    tmp_path: Path, target: Target, name: str, repaired: bool, fits: bool
) -> None:
    result = check_wheel(make_wheel(tmp_path / name), target, repaired=repaired)
    if fits:
        assert not isinstance(result, str), result
    else:
        assert isinstance(result, str)
        assert f"do not fit target {target.identifier}" in result
