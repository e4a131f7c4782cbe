"""Foreign architectures: the kernel runs their programs through QEMU, registered in
binfmt_misc. Without that (or without the fix-binary flag, which lets a container use the
host's QEMU), a container of another architecture fails with a cryptic "exec format error"."""

from __future__ import annotations

from pathlib import Path

from .._arch import arch_info, native_arch, runs_natively

__all__ = ["BINFMT_DIR", "EMULATION_TIP", "emulation_problem"]

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")

EMULATION_TIP = (
    "register QEMU for it with the fix-binary (F) flag: on Debian or Ubuntu, "
    "`apt-get install qemu-user-static` (if /proc/sys/fs/binfmt_misc is empty, first "
    "`mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc`); elsewhere, once per boot, "
    "`docker run --privileged --rm tonistiigi/binfmt --install all`"
)


def emulation_problem(
    arch: str, *, machine: str | None = None, binfmt_dir: Path = BINFMT_DIR
) -> str | None:
    """Why containers of ``arch`` cannot run on this machine, or None when they can (natively,
    or through a QEMU registered with the F flag)."""
    if runs_natively(arch, machine):
        return None
    host = native_arch(machine)
    entry = binfmt_dir / f"qemu-{arch_info(arch).qemu}"
    if not (binfmt_dir / "register").exists():
        return f"{arch} needs emulation on this {host} machine, and binfmt_misc is not mounted"
    try:
        lines = entry.read_text().splitlines()
    except OSError:
        return f"{arch} needs emulation on this {host} machine, and no QEMU is registered for it"
    if not lines or lines[0].strip() != "enabled":
        return f"{arch} needs emulation: its QEMU entry {entry} is disabled"
    flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags:")), "")
    if "F" not in flags:
        return (
            f"{arch} needs emulation: its QEMU entry {entry} lacks the fix-binary (F) flag, so "
            "containers cannot use it"
        )
    return None
