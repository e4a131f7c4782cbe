"""``manywheel export docker``: the current configuration as a Dockerfile and a shell script.

For teams that must keep a plain-docker workflow. The files use the very scripts manywheel runs
(preparation, per-target build), so the exported build means what ``manywheel build`` means,
minus manywheel's extras (parallel targets, caches, no-op rebuilds, the pristine test).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ._arch import arch_info
from ._config.exclude import VCS_NAMES, Exclusions
from ._config.options import Options
from ._engines.transfer import EXCLUDED_NAMES, EXCLUDED_SUFFIXES
from ._epoch import source_date_epoch
from ._errors import ConfigError
from ._layout import CONTAINER
from ._logs import MIN_SECRET_LENGTH
from ._model import BuildImage, Plan
from ._prepare import IN, preparation_for
from ._scripts.build import build_script
from ._scripts.shell import fixed_script, quote

__all__ = ["ExportedFile", "export_docker"]


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative to the export folder
    data: bytes
    executable: bool = False


def _dockerfile_string(value: str) -> str:
    """A double-quoted Dockerfile word (for LABEL) that reads back as ``value``.

    Quotes and backslashes are escaped as in JSON and ``$`` is kept from expanding (docker and
    podman builds read these escapes back). Control characters become JSON escapes: a newline
    is written, and read back, as a backslash and an ``n``, so no value can start a new line.
    """
    return json.dumps(value, ensure_ascii=False).replace("$", "\\$")


def _image_folder(plan: Plan, image: BuildImage) -> str:
    """Where an image's Dockerfile goes: the export folder itself for one image (as before the
    matrix), else images/<platform> (with the policy when a platform has several)."""
    if len(plan.images) == 1:
        return ""
    (label,) = {t.identifier.split("-", 1)[1] for t in plan.targets_of(image)}
    return f"images/{label}/"


def _dockerfile(options: Options, image: BuildImage, has_prepare: bool) -> str:
    lines = [
        "# Written by `manywheel export docker`: the prepared build environment.",
        f"FROM {image.image}",
        f"WORKDIR {CONTAINER.project}",  # creates the folder the project is copied into
    ]
    for key, value in options.labels:
        lines.append(f"LABEL {_dockerfile_string(key)}={_dockerfile_string(value)}")
    if has_prepare:
        lines += [
            f"COPY prepare/ {IN}/",
            f"RUN bash {IN}/prepare.sh && rm -rf {IN}",
        ]
    return "\n".join(lines) + "\n"


# build-wheels.sh: _scripts/sh/build-wheels.sh with its __PLACEHOLDERS__ filled in, and the
# check of the secret variables (build-wheels-secrets.sh) when there are any. Secret variables
# are never written into these files: each build gets them by name from the environment of
# whoever runs the script (`exec --env NAME`).
_PLACEHOLDER = re.compile(r"__[A-Z][A-Z_]*[A-Z]__")


def _fill(template: str, values: dict[str, str]) -> str:
    """``template`` with each placeholder it names in ``values`` replaced, in one pass (a value
    is never searched for placeholders itself); any other is left for later."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(0), m.group(0)), template)


def export_docker(options: Options, plan: Plan) -> list[ExportedFile]:
    """The files of the export folder for ``options`` and the resolved ``plan``."""
    # Self-contained: no host cache mount, no ccache, tests are manywheel's business. No secret
    # is written into any file: secret variables reach the build by name when it runs (see
    # build-wheels-secrets.sh), so the build scripts neither set them nor report their values.
    secret = set(options.secret_names())
    opts = replace(
        options,
        shared_cache=False,
        ccache=False,
        environment=tuple((k, v) for k, v in options.environment if k not in secret),
        secret_environment=(),
    )
    files: list[ExportedFile] = []
    for im in plan.images:
        folder = _image_folder(plan, im)
        preparation = preparation_for(opts, im.facts, im.image_id)
        if preparation is not None:
            prepare = preparation.script.encode()
            files.append(ExportedFile(f"{folder}prepare/prepare.sh", prepare))
            files += [
                ExportedFile(f"{folder}prepare/{n}", d)
                for n, d in sorted(preparation.files.items())
            ]
        dockerfile = _dockerfile(opts, im, preparation is not None)
        files.append(ExportedFile(f"{folder}Dockerfile", dockerfile.encode()))
    budget = os.cpu_count() or 1
    epoch = source_date_epoch(options).value if options.reproducible else None
    for target in plan.targets:
        script, extra = build_script(opts, target, "manywheel:", budget, epoch=epoch)
        base = f"targets/{target.identifier}{IN}"
        files.append(ExportedFile(f"{base}/build.sh", script.encode()))
        files += [ExportedFile(f"{base}/{n}", d) for n, d in sorted(extra.items())]
    script = _script(opts, plan, options.secret_names())
    files.append(ExportedFile("build-wheels.sh", script.encode(), executable=True))
    _refuse_secret_values(options, files)
    return files


def _refuse_secret_values(options: Options, files: list[ExportedFile]) -> None:
    """A secret value repeated in another option (a literal in build-command, say) would be
    written out with it: refuse rather than write it."""
    # Only values known here: a word with $ or ` is evaluated in the container.
    values = [v for v in options.secret_values() if "$" not in v and "`" not in v]
    for f in files:
        for value in values:
            if len(value) >= MIN_SECRET_LENGTH and value.encode() in f.data:
                raise ConfigError(
                    f"export docker: the value of a secret variable would be written into {f.path}",
                    tip="refer to the secret by its name ($NAME) where another option needs it",
                )


def _script(options: Options, plan: Plan, secret_names: tuple[str, ...]) -> str:
    # environment-pass and SOURCE_DATE_EPOCH go in by name too, when the caller has them.
    passed = dict.fromkeys((*secret_names, *options.environment_pass, "SOURCE_DATE_EPOCH"))
    secrets = "".join(f"--env {quote(name)} " for name in passed)
    try:
        out = '"$project"/' + quote(str(options.output_dir.relative_to(options.project_dir)))
    except ValueError:
        out = quote(str(options.output_dir))
    excluded = _tar_excludes(options.exclusions())
    own = []
    for folder in (options.cache_dir, options.log_dir):
        if folder is not None and folder.is_relative_to(options.project_dir):
            own.append(' "$project"/' + quote(str(folder.relative_to(options.project_dir))))
    check = ""
    if secret_names:
        check = _fill(
            fixed_script("build-wheels-secrets.sh"), {"__NAMES__": " ".join(secret_names)}
        )
    return _fill(
        fixed_script("build-wheels.sh"),
        {
            "__CHECK_SECRETS__": check,
            "__OUTPUT__": out,
            "__EXCLUDED__": " ".join(quote(word) for word in excluded),
            "__OWN_DIRS__": "".join(own),
            "__SECRET_NAMES__": secrets,  # values come from the caller's environment at exec
            "__IN__": IN,
            "__PROJECT__": CONTAINER.project,
            "__OUT__": CONTAINER.out,
            "__BUILD_IMAGES__": "".join(
                f"build_image {quote(_image_folder(plan, im).rstrip('/') or '.')}{_platform_word(im)}\n"
                for im in plan.images
            ),
            "__BUILD_TARGETS__": "".join(
                f"build_target {quote(t.identifier)} {plan.images.index(plan.image_for(t))}"
                f"{_platform_word(plan.image_for(t), prefix=True)}\n"
                for t in plan.targets
            ),
        },
    )  # __PROJECT_REL__ is filled in by write_export, which knows where the folder is


def _platform_word(image: BuildImage, *, prefix: bool = False) -> str:
    """The platform argument of build_image / build_target (and linux32 for a 32-bit one)."""
    if image.arch is None:
        return ""
    info = arch_info(image.arch)
    return f" {info.oci}" + (" linux32" if prefix and info.bits == 32 else "")


def _tar_excludes(exclusions: Exclusions) -> list[str]:
    """GNU tar options that leave out what ``project_files`` leaves out. Its pattern options
    are positional; a glob's trailing ``/`` (folders only) is dropped, and a ``**`` inside an
    anchored glob becomes a ``*`` that crosses folders (``a/**/b`` misses ``a/b``)."""
    names = sorted(EXCLUDED_NAMES | (VCS_NAMES if exclusions.vcs else frozenset()))
    out = [f"--exclude={name}" for name in names]
    out += [f"--exclude=*{suffix}" for suffix in EXCLUDED_SUFFIXES]
    for glob in exclusions.globs:
        body = glob.rstrip("/")
        while body.startswith("**/"):
            body = body[3:]
        if "/" in body:
            cross = "--wildcards-match-slash" if "**" in body else "--no-wildcards-match-slash"
            pattern = "./" + body.lstrip("/").replace("**", "*")
            out += ["--anchored", cross, f"--exclude={pattern}"]
        else:
            out += ["--no-anchored", "--no-wildcards-match-slash", f"--exclude={body}"]
    if exclusions.globs:
        out += ["--no-anchored", "--wildcards-match-slash"]  # tar's defaults for what follows
    return out


def write_export(files: list[ExportedFile], folder: Path, project_dir: Path) -> None:
    """Write the export folder (its files only; other files there are left alone)."""
    for f in files:
        path = folder / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        data = f.data
        if f.path == "build-wheels.sh":
            rel = os.path.relpath(project_dir.resolve(), folder.resolve())
            data = data.replace(b"__PROJECT_REL__", quote(rel).encode())
        path.write_bytes(data)
        if f.executable:
            path.chmod(0o755)
