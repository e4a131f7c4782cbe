"""The data a run produces and hands out: targets, the plan, each target's result, the run's.

Data only (no behaviour beyond derived properties, no imports from the rest of manywheel):
front ends, reports and library users read these without importing the orchestrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "OK_STATUSES",
    "Assignment",
    "BuildImage",
    "BuilderShare",
    "ImageFacts",
    "Plan",
    "Rejected",
    "RunResult",
    "Target",
    "TargetResult",
]


@dataclass(frozen=True)
class Target:
    identifier: str  # e.g. cp313-manylinux_x86_64 (cp313-manylinux_2_28_x86_64 when needed)
    version: str  # e.g. 3.13.1
    free_threaded: bool
    python: str  # interpreter path in the image
    platform: str = "manylinux_x86_64"  # libc_arch, as the image says (uname -m in it)
    image: str = ""  # the image it builds in (see Plan.image_for)
    implementation: str = "cpython"  # or pypy, graalpy (sys.implementation.name)
    prerelease: bool = False  # an alpha or beta release (sys.version_info.releaselevel)

    @property
    def libc(self) -> str:
        return self.platform.split("_", 1)[0]

    @property
    def arch(self) -> str:
        return self.platform.split("_", 1)[1] if "_" in self.platform else self.platform

    @property
    def minor(self) -> str:
        major, minor = self.version.split(".")[:2]
        return f"{major}.{minor}" + ("t" if self.free_threaded else "")

    @property
    def python_tag(self) -> str:
        """cp313 (also of cp313t), pp311, gp313_253: the identifier's first part."""
        return self.identifier.split("-")[0].rstrip("t")


@dataclass(frozen=True)
class ImageFacts:
    platform: str  # e.g. manylinux_x86_64
    auditwheel_plat: str
    package_manager: str | None
    shell: str
    interpreters: tuple[Target, ...]
    uv: str = ""  # the release of the uv on its PATH ("": none)


@dataclass(frozen=True)
class BuildImage:
    """One image of a run, inspected: a target builds in the one its ``image`` names."""

    image: str  # the reference
    image_id: str
    facts: ImageFacts
    arch: str | None = None  # containers run with this architecture's platform; None: its own
    key: str = "image"  # the option that named it
    policy: str | None = None  # manylinux_2_28, when the configuration named it so

    @property
    def platform(self) -> str:
        return self.facts.platform


@dataclass(frozen=True)
class Plan:
    images: tuple[BuildImage, ...]
    targets: tuple[Target, ...]

    def image_for(self, target: Target) -> BuildImage:
        for image in self.images:
            if image.image == target.image and image.platform == target.platform:
                return image
        if len(self.images) == 1:
            return self.images[0]
        raise LookupError(f"no image for {target.identifier}")

    def targets_of(self, image: BuildImage) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if self.image_for(t) is image)


@dataclass(frozen=True)
class BuilderShare:
    """One builder's part of a run with several builders (``builders``): what it is, and the
    targets it builds, in the order they start."""

    name: str
    endpoint: str  # the word of ``builders``
    engine: str  # docker or podman
    version: str  # the engine server's
    arch: str
    cpus: int
    targets: tuple[str, ...] = ()  # identifiers, longest expected first
    emulated: tuple[str, ...] = ()  # those of them it runs under QEMU
    unchecked: tuple[str, ...] = ()  # of those, the ones whose QEMU there is not known yet
    at_once: int = 0  # how many of them build at once
    cores_per_target: int = 0  # make -jN in each


@dataclass(frozen=True)
class Assignment:
    """Which builder builds each target."""

    shares: tuple[BuilderShare, ...]

    def share_of(self, identifier: str) -> BuilderShare:
        for share in self.shares:
            if identifier in share.targets:
                return share
        raise LookupError(f"no builder for {identifier}")


@dataclass(frozen=True)
class Rejected:
    """A file a build left where its wheels go that was not taken (``reason``: what it was)."""

    name: str
    reason: str


@dataclass
class TargetResult:
    target: Target
    status: str = "pending"  # built | covered | failed | cancelled | up-to-date
    wheels: list[Path] = field(default_factory=list)
    error: str | None = None
    log: Path | None = None
    tail: list[str] = field(default_factory=list)
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    # covered: the wheel of an earlier target (abi3) serves this one, which is not built
    covered_by: str | None = None
    # the engine, not the build, failed (it does not answer, the container vanished): why
    fault: str | None = None
    builder: str | None = None  # with builders: the one that built (or last tried) it
    retried: str | None = None  # with builders: the line that says it was moved, and why


OK_STATUSES = ("built", "covered", "up-to-date")


@dataclass
class RunResult:
    run_id: str
    plan: Plan
    results: list[TargetResult] = field(default_factory=list)
    published: list[Path] = field(default_factory=list)
    output_dir: Path | None = None
    log_dir: Path | None = None
    report: Path | None = None
    seconds: float = 0.0
    source_date_epoch: int | None = None  # the builds' SOURCE_DATE_EPOCH (None: not reproducible)

    @property
    def ok(self) -> bool:
        return all(r.status in OK_STATUSES for r in self.results)

    @property
    def failed(self) -> list[TargetResult]:
        return [r for r in self.results if r.status not in OK_STATUSES]
