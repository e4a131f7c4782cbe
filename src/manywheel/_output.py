"""Check the wheels a target produced, then move them into the output folder atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ._errors import OutputError
from ._model import Target

__all__ = ["WheelInfo", "check_wheel", "publish", "staging_dir"]


@dataclass(frozen=True)
class WheelInfo:
    path: Path
    tags: tuple[str, ...]
    size: int


def _abi_fits(tag: Tag, target: Target) -> bool:
    """The tag's interpreter and ABI run on the target's interpreter."""
    py = target.python_tag  # cp313, pp311, gp313_253
    if tag.abi == "none":
        return tag.interpreter in ("py3", py) or (
            tag.interpreter.startswith("py3") and target.implementation == "cpython"
        )
    if target.implementation == "pypy":  # pp311-pypy311_pp73
        return tag.interpreter == py and tag.abi.startswith("pypy" + py[2:])
    if target.implementation == "graalpy":  # graalpy313-graalpy250_313_native
        return tag.interpreter.startswith("graalpy") and tag.abi.startswith("graalpy")
    return (tag.interpreter == py and tag.abi == py + ("t" if target.free_threaded else "")) or (
        tag.abi == "abi3"
        and not target.free_threaded
        and tag.interpreter.startswith("cp")
        and int(tag.interpreter[3:] or 0) <= int(py[3:])
    )


def _fits_target(tag: Tag, target: Target, repaired: bool) -> bool:
    if tag.platform == "any":
        plat_ok = True
    elif repaired:  # the target's libc and architecture: manylinux_2_28_aarch64 for aarch64
        plat_ok = tag.platform.startswith(target.libc) and tag.platform.endswith("_" + target.arch)
    else:  # linux_aarch64, or a build that tags its wheels itself
        plat_ok = tag.platform.endswith("_" + target.arch)
    return _abi_fits(tag, target) and plat_ok


def check_wheel(path: Path, target: Target, *, repaired: bool) -> WheelInfo | str:
    """A ``WheelInfo`` for a good wheel, else the reason it is rejected."""
    try:
        _, _, _, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as e:
        return f"{path.name}: invalid wheel file name ({e})"
    if not any(_fits_target(t, target, repaired) for t in tags):
        shown = ".".join(sorted(str(t) for t in tags))
        return f"{path.name}: its tags ({shown}) do not fit target {target.identifier}"
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError) as e:
        return f"{path.name}: not a valid wheel archive ({e})"
    if bad is not None:
        return f"{path.name}: corrupt member {bad}"
    dist_info = [n for n in names if n.count("/") == 1 and n.split("/")[0].endswith(".dist-info")]
    if not any(n.endswith("/WHEEL") for n in dist_info) or not any(
        n.endswith("/RECORD") for n in dist_info
    ):
        return f"{path.name}: no .dist-info/WHEEL and RECORD inside"
    return WheelInfo(path, tuple(sorted(str(t) for t in tags)), path.stat().st_size)


def staging_dir(run_dir: Path) -> Path:
    """The run's private folder for wheels on their way to the output folder: in the run's log
    folder, so never inside the project (where builds would copy and fingerprint it). A killed
    run's staging folder is removed by the next run (``_leftovers.sweep_staging``)."""
    staging = run_dir / "staging"
    try:
        staging.mkdir(mode=0o700, parents=True)
    except OSError as e:
        raise OutputError(
            f"cannot create the staging folder {staging}: {e.strerror}",
            tip="choose a writable log-dir (--log-dir DIR)",
        ) from None
    return staging


def check_writable(output_dir: Path) -> None:
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=output_dir, prefix=".manywheel-probe-", delete=True)  # noqa: SIM115
        probe.close()
    except OSError as e:
        raise OutputError(
            f"output folder {output_dir} is not writable: {e.strerror}",
            tip="fix its permissions or choose another one with --output-dir",
        ) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(wheels: list[Path], output_dir: Path, keep: Path) -> list[Path]:
    """Move checked wheels into ``output_dir``, each in one atomic rename.

    Wheels are first copied to hidden temporary names inside ``output_dir`` (so a full disk
    fails before anything is renamed), then renamed. On failure, nothing partial is left in
    ``output_dir`` and the wheels stay in ``keep``, which the error names.
    """
    for wheel in wheels:
        final = output_dir / wheel.name
        if final.is_dir() and not final.is_symlink():
            raise OutputError(
                f"{final} is a folder, so the wheel {wheel.name} cannot be written there; "
                "nothing was published",
                tip=f"remove or rename that folder; the built wheels are kept in {keep}",
            )
    pending: list[tuple[Path, Path]] = []
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        for wheel in wheels:
            fd, part = tempfile.mkstemp(prefix=f".{wheel.name}.", suffix=".part", dir=output_dir)
            os.close(fd)
            pending.append((Path(part), output_dir / wheel.name))
            shutil.copyfile(wheel, part)
    except OSError as e:
        for tmp, _ in pending:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise OutputError(
            f"could not write the wheels to {output_dir}: {e.strerror or e}",
            tip=f"the built wheels are kept in {keep}; free space or fix permissions, then copy them",
        ) from None
    done: list[Path] = []
    mode = 0o666 & ~_umask()
    for tmp, final in pending:
        os.chmod(tmp, mode)
        os.replace(tmp, final)
        done.append(final)
    return done
