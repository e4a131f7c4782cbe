from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import manywheel._builders.discovery as builder_discovery
import manywheel._engines.container as eng
import manywheel._toolchain as toolchain
from manywheel._cache import CACHE_LABEL, PREPARED_LABEL, default_cache_dir, open_cache_root
from manywheel._errors import ConfigError
from manywheel._toolchain import ToolchainError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PACKAGES = Path(__file__).resolve().parent / "packages"
OUTPUTS = shutil.ignore_patterns("dist", "build", "*.egg-info", "manywheel-export")
FIXTURE_IMAGE = os.environ.get("MANYWHEEL_FIXTURE_IMAGE", "localhost/manywheel-fixture:forky")
# The same fixture for i386 (run as i686) and arm64 (run as aarch64, under QEMU).
FIXTURE_IMAGE_I386 = FIXTURE_IMAGE + "-i386"
FIXTURE_IMAGE_ARM64 = FIXTURE_IMAGE + "-arm64"


def required_engines() -> set[str]:
    """Engines whose absence is a failure (CI), not a skip (a developer's machine)."""
    value = os.environ.get("MANYWHEEL_TEST_ENGINES", "")
    if not value and os.environ.get("CI"):
        value = "docker,podman"
    return {e.strip() for e in value.split(",") if e.strip()}


def _engine_problem(name: str) -> str | None:
    if shutil.which(name) is None:
        return f"{name} is not installed"
    r = subprocess.run([name, "info"], capture_output=True, timeout=30, check=False)
    if r.returncode != 0:
        return f"{name} does not answer: {r.stderr.decode(errors='replace').strip()[:200]}"
    r = subprocess.run(
        [name, "image", "inspect", FIXTURE_IMAGE], capture_output=True, timeout=30, check=False
    )
    if r.returncode != 0:
        return (
            f"fixture image {FIXTURE_IMAGE} missing in {name} (run tests/images/build-fixture.sh)"
        )
    return None


_problems: dict[str, str | None] = {}


def engine_or_skip(name: str) -> str:
    if name not in _problems:
        _problems[name] = _engine_problem(name)
    problem = _problems[name]
    if problem is not None:
        if name in required_engines():
            pytest.fail(f"required engine unusable: {problem}")
        pytest.skip(f"ENGINE NOT AVAILABLE, integration test skipped: {problem}")
    return name


@pytest.fixture(scope="session", autouse=True)
def _cache_folder_of_the_session() -> Iterator[None]:
    """Every build of the session caches in a folder of its own (``XDG_CACHE_HOME``), never in
    the user's ``~/.cache/manywheel``: each test's project is a new one, with venvs and
    downloads of its own, and a suite run left gigabytes there. Removed at the end, with the
    prepared images and volumes of that cache folder on this machine's engines (each pytest-xdist
    worker has a session, and a cache folder, of its own). The prepared images of the tests
    with cache folders of their own go at the end of the whole run (``pytest_sessionfinish``)."""
    folder = Path(tempfile.mkdtemp(prefix="manywheel-tests-cache-"))
    before = {
        name: os.environ.pop(name, None) for name in ("XDG_CACHE_HOME", "MANYWHEEL_CACHE_DIR")
    }
    os.environ["XDG_CACHE_HOME"] = str(folder)
    try:
        yield
    finally:
        try:
            with_id = open_cache_root(None, create=False).id
        except ConfigError:
            with_id = None
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for name in _ENGINES if with_id else ():
            label = f"{CACHE_LABEL}={with_id}"
            _remove(name, ["rmi", "-f"], _labelled(name, label, "images") or set())
            _remove(name, ["volume", "rm", "-f"], _labelled(name, label, "volumes") or set())
        shutil.rmtree(folder, ignore_errors=True)


_ENGINES = [name for name in ("docker", "podman") if shutil.which(name)]
_PREPARED_BEFORE = pytest.StashKey[dict[str, "set[str] | None"]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """The prepared images there are before the whole run (not in an xdist worker: the run's
    controller, or the one process)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        before = {name: _labelled(name, PREPARED_LABEL, "images") for name in _ENGINES}
        session.config.stash[_PREPARED_BEFORE] = before


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Every prepared image the run made goes once all its tests have ended: a cache miss for
    a build of yours that ran at the same time."""
    before = session.config.stash.get(_PREPARED_BEFORE, None)
    for name, then in (before or {}).items():
        now = _labelled(name, PREPARED_LABEL, "images")
        if now is not None and then is not None:  # else nothing is known to be new
            _remove(name, ["rmi", "-f"], now - then)


@pytest.fixture(scope="module", autouse=True)
def _project_caches_go_with_their_module(_cache_folder_of_the_session: None) -> Iterator[None]:
    """Each test's project is new, so no later module reads the caches of a module's
    projects: they go at its end (a suite run would otherwise hold gigabytes of them). The
    toolchains stay for the next modules."""
    yield
    for part in ("downloads", "venvs"):
        shutil.rmtree(default_cache_dir() / part, ignore_errors=True)


def _labelled(engine: str, label: str, kind: str) -> set[str] | None:
    """The ids of the engine's images or volumes with ``label``; None when the engine does not
    answer (it may be stopped)."""
    listing = ["images", "-q", "--no-trunc"] if kind == "images" else ["volume", "ls", "-q"]
    try:
        r = subprocess.run(
            [engine, *listing, "--filter", f"label={label}"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None
    return set(r.stdout.split()) if r.returncode == 0 else None


def _remove(engine: str, command: list[str], ids: set[str]) -> None:
    if ids:
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(
                [engine, *command, *sorted(ids)], capture_output=True, timeout=300, check=False
            )


@pytest.fixture(params=["docker", "podman"])
def engine(request: pytest.FixtureRequest) -> str:
    """A real, working container engine with the fixture image (docker, then podman)."""
    if request.node.get_closest_marker("engine") is None:
        pytest.fail("tests that use a container engine must be marked @pytest.mark.engine")
    return engine_or_skip(str(request.param))


@pytest.fixture(autouse=True)
def _block_engines_in_unmarked_tests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Unit tests may not reach a container engine by accident (nox's habit), nor download zig."""
    if request.node.get_closest_marker("engine") is None:

        def blocked(*args: object, **kwargs: object) -> None:
            raise RuntimeError("this test reached a container engine: mark it @pytest.mark.engine")

        monkeypatch.setattr(eng.Engine, "popen", blocked)
        monkeypatch.setattr(eng.Engine, "exec_", blocked)
        monkeypatch.setattr(eng, "_answers", blocked)
        monkeypatch.setattr(builder_discovery, "run_client", blocked)  # builders' info

        def no_download(args: object, dest: object) -> None:  # 100 MB of zig, per test
            raise ToolchainError("unit tests download no toolchain")

        monkeypatch.setattr(toolchain, "pip_download", no_download)
    return


@pytest.fixture
def example(tmp_path: Path) -> Iterator[object]:
    """Copy an example project into tmp_path: example('c-extension') -> its path."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        source = EXAMPLES / name if (EXAMPLES / name).is_dir() else PACKAGES / name
        # Only the sources: a README main job run before the tests leaves dist/ in the example.
        shutil.copytree(source, dest, ignore=OUTPUTS)
        return dest

    return copy
