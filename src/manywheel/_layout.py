"""Where things live while a target builds: fixed paths in a container, a private folder on the host."""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["CONTAINER", "Layout"]


@dataclass(frozen=True)
class Layout:
    work: str = "/manywheel"  # manywheel's own files
    project: str = "/project"  # the copy of the project
    cache: str = "/manywheel/cache"  # the shared download/ccache folder (mounted in containers)
    toolchain: str = "/manywheel/toolchain"  # zig, mounted read-only (cross-compilers)
    native: str = "/manywheel/native"  # a native Python, mounted read-only (cross-compilers)
    # A native CPython of the target's version, mounted read-only (cross-compilers): bytecode.
    twin: str = "/manywheel/twin"
    zig_seed: str = "/manywheel/zig-seed"  # zig's cache as a seed, read-only (cross-compilers)
    native_uv: str = "/manywheel/uv"  # the image's uv release, native, read-only (cross-compilers)

    @property
    def inbox(self) -> str:
        """Scripts and files copied in for one step."""
        return f"{self.work}/in"

    @property
    def built(self) -> str:
        """Where the build leaves the wheel."""
        return f"{self.work}/built"

    @property
    def out(self) -> str:
        """Where the repaired wheel goes; copied out from here."""
        return f"{self.work}/out"

    def moved(self, suffix: str) -> Layout:
        """The same layout with ``suffix`` added to the work and project folders (the
        reproducibility check's second build); the mounted cache stays where it is."""
        return replace(self, work=self.work + suffix, project=self.project + suffix)


CONTAINER = Layout()
