"""``manywheel export docker``: the current configuration as a Dockerfile and a shell script.

For teams that must keep a plain-docker workflow. The files use the very scripts manywheel runs
(preparation, per-target build), so the exported build means what ``manywheel build`` means,
minus manywheel's extras (parallel targets, caches, no-op rebuilds, the pristine test).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from ._config.exclude import VCS_NAMES, Exclusions
from ._config.options import Options
from ._engines.transfer import EXCLUDED_NAMES, EXCLUDED_SUFFIXES
from ._errors import ConfigError
from ._layout import CONTAINER
from ._logs import MIN_SECRET_LENGTH
from ._model import Plan
from ._prepare import IN, preparation_for
from ._scripts.build import build_script
from ._scripts.shell import quote

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


def _dockerfile(options: Options, plan: Plan, has_prepare: bool) -> str:
    lines = [
        "# Written by `manywheel export docker`: the prepared build environment.",
        f"FROM {plan.image}",
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


SCRIPT_HEAD = r"""#!/usr/bin/env bash
# Written by `manywheel export docker`. Builds every target one after the other in its own
# container from the image the Dockerfile beside this script describes, checks that each target
# left exactly one wheel, and only then moves the wheels into the output folder. Containers and
# the image are removed at the end, on failure and on Ctrl-C too.
#
# usage: bash build-wheels.sh [PROJECT_DIR [OUTPUT_DIR]]     (ENGINE=podman to use podman)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
default_project="$here"/__PROJECT_REL__
project=$(cd "${1:-$default_project}" && pwd)
output=${2:-__OUTPUT__}
engine=${ENGINE:-docker}
run="$(date +%Y%m%d-%H%M%S)-$$"
image="localhost/manywheel-export:$run"
containers=()
__CHECK_SECRETS__mkdir -p "$output"
staging=$(mktemp -d "$output/.manywheel-export-XXXXXX")
# The project goes into each container as a copy without what belongs to the host, as
# manywheel build copies it: caches and environments, VCS metadata (unless the version is
# computed from it), the `exclude` globs, the output folder, this export folder.
excludes=(__EXCLUDED__)
for dir in "$output" "$here"__OWN_DIRS__; do
  rel=$(realpath -m --relative-to="$project" "$dir")
  case $rel in .|..|../*|/*) ;; *) excludes+=(--no-wildcards "--exclude=./$rel") ;; esac
done

cleanup() {
  rc=$?
  trap - EXIT INT TERM
  for c in "${containers[@]+"${containers[@]}"}"; do "$engine" rm -f "$c" >/dev/null 2>&1 || true; done
  "$engine" rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$staging"
  if [ "$rc" -ne 0 ]; then echo "build-wheels.sh: failed (exit $rc); $output is unchanged" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$engine" build --tag "$image" "$here"
"""

# Secret variables are never written into these files: each build gets them by name from the
# environment of whoever runs this script (`exec --env NAME`).
SCRIPT_SECRETS = r"""missing=()
for name in __NAMES__; do [ -n "${!name+set}" ] || missing+=("$name"); done
if [ "${#missing[@]}" -ne 0 ]; then
  echo "build-wheels.sh: set ${missing[*]} in the environment: secret variables are passed to" \
    "the builds by name and never written into the exported files" >&2
  exit 2
fi
"""

SCRIPT_TARGET = r"""
build_target() {  # IDENTIFIER
  local id=$1 name="manywheel-$run-$1"
  containers+=("$name")
  # A container that idles until removed; the build runs in it with exec.
  "$engine" run --detach --name "$name" --label manywheel.export="$run" "$image" \
    tail -f /dev/null >/dev/null
  # The project goes in as a copy (never a writable bind mount).
  tar -C "$project" "${excludes[@]}" -cf - . | "$engine" cp - "$name:__PROJECT__"
  tar -C "$here/targets/$id" -cf - . | "$engine" cp - "$name:/"
  echo "== $id"
  "$engine" exec __SECRET_NAMES__"$name" bash __IN__/build.sh
  mkdir -p "$staging/$id"
  "$engine" cp "$name:__OUT__/." "$staging/$id/"
  local wheels=("$staging/$id"/*.whl)
  if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
    echo "build-wheels.sh: $id: expected exactly one wheel, found ${#wheels[@]}" >&2
    exit 1
  fi
  "$engine" rm -f "$name" >/dev/null
}
"""

SCRIPT_TAIL = r"""
# Every target built: move the wheels in (a rename in the same folder each, never half a file).
for wheel in "$staging"/*/*.whl; do
  mv -f "$wheel" "$output/"
  echo "wrote $output/${wheel##*/}"
done
"""


def export_docker(options: Options, plan: Plan) -> list[ExportedFile]:
    """The files of the export folder for ``options`` and the resolved ``plan``."""
    # Self-contained: no host cache mount, no ccache, tests are manywheel's business. No secret
    # is written into any file: secret variables reach the build by name when it runs (see
    # SCRIPT_SECRETS), so the build scripts neither set them nor report their values.
    secret = set(options.secret_names())
    opts = replace(
        options,
        shared_cache=False,
        ccache=False,
        environment=tuple((k, v) for k, v in options.environment if k not in secret),
        secret_environment=(),
    )
    files: list[ExportedFile] = []
    preparation = preparation_for(opts, plan.facts, plan.image_id)
    if preparation is not None:
        files.append(ExportedFile("prepare/prepare.sh", preparation.script.encode()))
        files += [ExportedFile(f"prepare/{n}", d) for n, d in sorted(preparation.files.items())]
    files.append(
        ExportedFile("Dockerfile", _dockerfile(opts, plan, preparation is not None).encode())
    )
    budget = os.cpu_count() or 1
    for target in plan.targets:
        script, extra = build_script(opts, target, "manywheel:", budget)
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
    secrets = "".join(f"--env {quote(name)} " for name in secret_names)
    try:
        out = '"$project"/' + quote(str(options.output_dir.relative_to(options.project_dir)))
    except ValueError:
        out = quote(str(options.output_dir))
    excluded = _tar_excludes(options.exclusions())
    own = []
    for folder in (options.cache_dir, options.log_dir):
        if folder is not None and folder.is_relative_to(options.project_dir):
            own.append(' "$project"/' + quote(str(folder.relative_to(options.project_dir))))
    check = SCRIPT_SECRETS.replace("__NAMES__", " ".join(secret_names)) if secret_names else ""
    text = (
        SCRIPT_HEAD.replace("__CHECK_SECRETS__", check)
        .replace("__OUTPUT__", out)
        .replace("__EXCLUDED__", " ".join(quote(word) for word in excluded))
        .replace("__OWN_DIRS__", "".join(own))
    )
    target = SCRIPT_TARGET
    for name, value in (
        ("__SECRET_NAMES__", secrets),  # values come from the caller's environment at exec
        ("__IN__", IN),
        ("__PROJECT__", CONTAINER.project),
        ("__OUT__", CONTAINER.out),
    ):
        target = target.replace(name, value)
    text += target
    text += "\n" + "".join(f"build_target {quote(t.identifier)}\n" for t in plan.targets)
    return text + SCRIPT_TAIL


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
