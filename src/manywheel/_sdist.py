"""Making the project's sdist first, to build every wheel from it (``build-from-sdist``):
in a container, as everything that runs the project's code (its build backend here). An sdist
given as the project is unpacked by ``_config.sdist``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ._config.options import Options
from ._config.sdist import SDIST_SUFFIX
from ._engines.protocol import Backend
from ._engines.transfer import copy_in, copy_out_wheels
from ._errors import BuildFailedError
from ._events import Emitter, Step
from ._layout import Layout
from ._model import Target
from ._prepare import ca_exports, pip_exports, run_logged
from ._scripts.installer import uv_exports
from ._scripts.shell import quote

__all__ = ["make_sdist"]


def _script(options: Options, python: str, out: str) -> str:
    """Make the sdist of the project (the working folder) with build, in a venv of its own,
    with the index, certificates and uv settings of the builds."""
    venv = f"{out}/../sdist-venv"
    return "\n".join(
        [
            "set -eu",
            "export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1",
            "export CIBUILDWHEEL=1",
            *ca_exports(),
            *pip_exports(options),
            *uv_exports(replace(options, shared_cache=False)),
            f"mkdir -p {out}",
            f"{quote(python)} -m venv {venv}",
            f". {venv}/bin/activate",
            "if command -v uv >/dev/null 2>&1; then uv pip install build; "
            "else python -m pip install build; fi",
            f"python -m build --sdist --outdir {out} .",
        ]
    )


def make_sdist(
    engine: Backend,
    options: Options,
    image: str,
    target: Target,
    *,
    name: str,
    labels: dict[str, str],
    staging: Path,
    log_path: Path,
    emitter: Emitter,
    arch: str | None = None,
) -> Path:
    """The project's sdist, made with ``target``'s interpreter in a container of ``image``
    and copied into ``staging``. BuildFailedError (with the log's tail) when it fails."""
    emitter.emit("step", f"making the sdist ({image})", data=Step("sdist"))
    with engine.container(
        image, name, labels=labels, extra_args=options.engine_args, arch=arch
    ) as ctr:
        layout: Layout = engine.layout(ctr)
        copy_in(engine, ctr, layout.project, tree=options.project_dir, exclude=options.exclusions())
        out = f"{layout.work}/sdist"
        script = f"cd {layout.project}\n{_script(options, target.python, out)}\n"
        run_logged(
            engine, ctr, script, options=options, log_path=log_path, what="making the sdist",
            timeout=3600,
        )  # fmt: skip
        staging.mkdir(parents=True, exist_ok=True)
        taken, _ = copy_out_wheels(engine, ctr, out, staging, suffix=SDIST_SUFFIX)
    if len(taken) != 1:
        raise BuildFailedError(
            f"making the sdist left {len(taken)} .tar.gz files, not one", tip=f"log: {log_path}"
        )
    emitter.info(f"made the sdist {taken[0].name}; every wheel is built from it")
    return taken[0]
