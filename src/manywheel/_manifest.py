"""Incremental builds: what went into each wheel in the output folder, to skip unchanged targets."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import platformdirs

from ._arch import ARCHS, LIBCS
from ._config.exclude import VCS_NAMES, vcs_state
from ._config.options import Options
from ._config.registry import image_key
from ._config.requirements import requirements_digest
from ._engines.transfer import project_files
from ._model import Target
from ._version import __version__

__all__ = ["Manifest", "fingerprint", "source_digest"]

FORMAT = 1
# Options that cannot change the wheels a target produces.
_NOT_INPUTS = frozenset(
    {"project_dir", "config_files", "jobs", "log_dir", "output_dir", "pull", "force", "engine",
     "cache_dir", "shared_cache", "cache_prepared", "cache_venv", "notes", "allow_empty",
     "check_reproducible",
     # What it decides is in the fingerprint as the compilers a target uses: turning it off
     # rebuilds the targets zig compiled, not those that never used it.
     "cross_compilers",
     # Every layer, overrides too: a target's own options (for_target) are what count.
     "stages", "source_archive",
     # What selects the targets and their images: a target's own image and interpreter are in
     # its fingerprint (its id through the environment key), so adding an architecture or
     # skipping another target rebuilds nothing that was built.
     "build", "skip", "python", "image", "archs", "libc", "default_images",
     *(image_key(libc, arch.name).replace("-", "_") for libc in LIBCS for arch in ARCHS)}
)  # fmt: skip


def source_digest(options: Options) -> str:
    """A hash of every file that is copied into the build container; of a VCS folder copied
    for a project whose version comes from it, only what decides the version (``vcs_state``)."""
    digest = hashlib.sha256()
    root = options.project_dir
    exclusions = options.exclusions()
    if not exclusions.vcs:
        for name in sorted(VCS_NAMES):
            if (root / name).exists():
                digest.update(f"V{name}\0{vcs_state(root / name)}\0".encode())
    for path in project_files(root, replace(exclusions, vcs=True)):
        # The names' bytes as on disk: a name need not be valid UTF-8.
        rel = os.fsencode(path.relative_to(root).as_posix())
        if path.is_symlink():
            digest.update(b"L" + rel + b"\0" + os.fsencode(os.readlink(path)) + b"\0")
        elif path.is_file():
            digest.update(b"F" + rel + f"\0{path.stat().st_mode & 0o111}\0".encode())
            _update_from_file(digest, path)
        else:
            digest.update(b"D" + rel + b"\0")
    return digest.hexdigest()


def fingerprint(
    options: Options,
    target: Target,
    environment_key: str,
    sources: str,
    epoch: int | None = None,
    *,
    compilers: str | None = None,
) -> str:
    """Everything that decides a target's wheel: sources, options, environment, interpreter,
    SOURCE_DATE_EPOCH, and the cross compilers planned for it (None: the image's own)."""
    opts = {k: v for k, v in asdict(options).items() if k not in _NOT_INPUTS}
    inputs = {
        "format": FORMAT,
        "manywheel": __version__,
        "sources": sources,
        "options": opts,
        "requirements": requirements_digest(options.build_requirements),
        "environment": environment_key,
        "target": asdict(target),
        "source_date_epoch": epoch,
        "compilers": compilers,
        "secrets": [hashlib.sha256(s.encode()).hexdigest() for s in options.secret_values()],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def _update_from_file(digest: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    _update_from_file(digest, path)
    return digest.hexdigest()


_ENTRY_KEYS = ("fingerprint", "wheel", "sha256")


def _valid_entries(data: object) -> dict[str, dict[str, str]] | None:
    """The manifest's targets when every field has the right type, else None."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    targets = data.get("targets")
    if not isinstance(targets, dict):
        return None
    entries: dict[str, dict[str, str]] = {}
    for identifier, entry in targets.items():
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in _ENTRY_KEYS
        ):
            return None
        wheel = entry["wheel"]
        if not wheel or "/" in wheel or wheel in (".", ".."):
            return None
        entries[identifier] = {k: entry[k] for k in _ENTRY_KEYS}
    return entries


class Manifest:
    """Per output folder: target -> fingerprint, wheel name and the wheel's sha256."""

    def __init__(self, output_dir: Path, state_dir: Path | None = None) -> None:
        root = state_dir or platformdirs.user_state_path("manywheel")
        key = hashlib.sha256(str(output_dir.resolve()).encode()).hexdigest()[:24]
        self.output_dir = output_dir
        self.path = root / "manifests" / f"{key}.json"
        self.entries: dict[str, dict[str, str]] = {}
        # Why the stored manifest was ignored (for the caller to warn about), or None.
        self.problem: str | None = None
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as e:
            self._ignore(f"cannot be read ({e.strerror or e})")
            return
        try:
            data = json.loads(text)
        except ValueError:
            self._ignore("is not valid JSON")
            return
        version = data.get("format") if isinstance(data, dict) else None
        if isinstance(version, int) and version != FORMAT:
            return  # another manywheel's format: quietly replaced at the next save
        entries = _valid_entries(data)
        if entries is None:
            self._ignore("does not have the expected structure")
        else:
            self.entries = entries

    def _ignore(self, why: str) -> None:
        self.problem = (
            f"the build manifest {self.path} {why}: it is ignored, so every target is rebuilt "
            "(the next build replaces it)"
        )

    def up_to_date(self, identifier: str, fp: str) -> Path | None:
        """The wheel in the output folder that this fingerprint already produced, if intact."""
        entry = self.entries.get(identifier)
        if not entry or entry.get("fingerprint") != fp:
            return None
        wheel = self.output_dir / entry["wheel"]
        try:
            if wheel.is_file() and _sha256(wheel) == entry.get("sha256"):
                return wheel
        except OSError:
            return None
        return None

    def record(self, identifier: str, fp: str, wheel: Path) -> None:
        self.entries[identifier] = {
            "fingerprint": fp,
            "wheel": wheel.name,
            "sha256": _sha256(wheel),
        }

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, "output_dir": str(self.output_dir), "targets": self.entries}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".manifest-", suffix=".part")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)
