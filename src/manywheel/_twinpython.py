"""For an emulated target: a CPython of the target's version from an image of this machine's
architecture, packed to run natively in the target's container (see _nativepython).

Python bytecode depends on the interpreter's version, not on the machine: a ``.pyc`` written
by an x86_64 CPython 3.13 is the one an aarch64 CPython 3.13 would write. Such an interpreter
compiles build's isolated environment (the backend: setuptools is hundreds of modules) in a
second, where the target's own interpreter takes tens of seconds under QEMU on a project's first
build (native-build.py ``--compile-with``). It comes from the run's twin image: the image the
configuration names for manylinux on this machine's architecture (``image``, or
``manylinux-x86_64-image``), the x86_64 image of the same family as the aarch64 one. Only an
image that is here already is used: none is pulled for this.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ._arch import native_arch
from ._config.options import Options
from ._engines.protocol import Backend
from ._errors import ManywheelError
from ._model import Target
from ._nativepython import image_python
from ._plan import discover

__all__ = ["TwinPythons"]


class TwinPythons:
    """The packed twins of a run's emulated targets, found and made once per Python version
    (``find``); ``None`` with the reason (``why``) where there is none."""

    def __init__(
        self,
        cache_root: Path,
        engine: Backend,
        options: Options,
        *,
        name: str,
        labels: dict[str, str],
    ) -> None:
        self._cache_root, self._engine, self._name, self._labels = cache_root, engine, name, labels
        try:
            self._specs = replace(
                options, archs=(native_arch(),), libc=("manylinux",)
            ).image_specs()
        except ManywheelError:
            self._specs = ()
        self._found: dict[str, Path | None] = {}
        self.why: dict[str, str] = {}  # by target minor (3.13): why it has none

    def find(self, target: Target) -> Path | None:
        """The packed twin of ``target``'s interpreter: a CPython of the same version (3.13,
        3.13t) of a twin image here (the first that has one), or None (see ``why``; none for a
        target that is not CPython: its bytecode is not CPython's)."""
        if target.implementation != "cpython":
            return None
        minor = target.minor
        if minor not in self._found:
            self._found[minor] = self._find(target)
        return self._found[minor]

    def _find(self, target: Target) -> Path | None:
        engine = self._engine.container_engine()
        if engine is None:
            self.why[target.minor] = "no container engine"
            return None
        absent, problems = [], []
        for spec in self._specs:
            image_id = engine.image_id(spec.image)
            if image_id is None:
                absent.append(spec.image)
                continue
            try:
                facts = discover(self._engine, spec.image, image_id, self._name, self._labels)
                twin = next(
                    (
                        t
                        for t in facts.interpreters
                        if t.implementation == "cpython" and t.minor == target.minor
                    ),
                    None,
                )
                if twin is None:
                    problems.append(f"{spec.image} has no CPython {target.minor}")
                    continue
                return image_python(
                    self._cache_root,
                    self._engine,
                    image=spec.image,
                    image_id=image_id,
                    python=twin.python,
                    version=twin.version,
                    name=self._name,
                    labels=self._labels,
                )
            except ManywheelError as e:  # ToolchainError, EngineError
                problems.append(e.message)
        if absent:
            problems.append(f"{', '.join(absent)} not here (it is not pulled for this)")
        self.why[target.minor] = "; ".join(problems) or "no image of this machine's architecture"
        return None
