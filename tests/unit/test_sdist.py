"""An sdist as the project, and build-from-sdist: every wheel built from the project's sdist."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from manywheel import ConfigError, load_options
from manywheel._config.sdist import is_sdist, unpack_sdist
from manywheel._events import Emitter
from manywheel._runcache import RunCache


def sdist(
    path: Path, members: dict[str, bytes | None], links: dict[str, str] | None = None
) -> Path:
    """A .tar.gz with files (bytes), folders (None) and symlinks."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o4755 if name.endswith(".sh") else 0o644
                tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


PYPROJECT = b'[project]\nname = "demo"\nversion = "1.0"\n[tool.cibuildwheel]\nbuild = "cp313-*"\n'


def test_an_sdist_is_unpacked_as_data_only(tmp_path: Path) -> None:
    good = sdist(tmp_path / "demo-1.0.tar.gz", {
        "demo-1.0": None, "demo-1.0/pyproject.toml": PYPROJECT, "demo-1.0/run.sh": b"echo\n",
    })  # fmt: skip
    assert is_sdist(good)
    assert not is_sdist(tmp_path)
    project = unpack_sdist(good, tmp_path / "out")
    assert project == tmp_path / "out" / "demo-1.0"
    assert (project / "pyproject.toml").read_bytes() == PYPROJECT
    assert os.stat(project / "run.sh").st_mode & 0o7777 == 0o755  # no setuid
    for bad, message in [
        ({"demo-1.0/../../evil": b"x"}, "a name outside the sdist's folder"),
        ({"/etc/evil": b"x"}, "a name outside the sdist's folder"),
        ({"a/x": b"1", "b/y": b"2"}, "holds 2 top folders, not one"),
    ]:
        with pytest.raises(ConfigError, match=message):
            unpack_sdist(sdist(tmp_path / "bad.tar.gz", bad), tmp_path / "bad")
    linked = sdist(tmp_path / "l.tar.gz", {"demo-1.0/a": b"1"}, {"demo-1.0/l": "/etc/passwd"})
    with pytest.raises(ConfigError, match="neither a file nor a folder"):
        unpack_sdist(linked, tmp_path / "l")
    (tmp_path / "broken.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(ConfigError, match="cannot unpack the sdist"):
        unpack_sdist(tmp_path / "broken.tar.gz", tmp_path / "b")


def test_an_sdist_given_as_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = sdist(tmp_path / "demo-1.0.tar.gz", {"demo-1.0/pyproject.toml": PYPROJECT})
    monkeypatch.chdir(tmp_path)
    options = load_options(archive, environ={})
    assert options.build == ("cp313-*",)  # its own configuration
    assert (options.project_dir / "pyproject.toml").read_bytes() == PYPROJECT
    assert options.output_dir == tmp_path / "wheelhouse"  # from here, as cibuildwheel does
    assert options.source_archive == archive
    # The caches of an sdist's builds are kept per sdist path, not per temporary folder.
    cache = RunCache(options, Emitter(None))
    assert (
        cache.namespace() == RunCache(load_options(archive, environ={}), Emitter(None)).namespace()
    )
