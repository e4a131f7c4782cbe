"""Prepare the build environment once: CA bundle, mirrors, repos, system packages, setup script.

The result is committed as a local image tagged by a hash of every input, so the next run with
the same inputs starts from it and pays no setup.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ._cache import CACHE_LABEL, open_cache_root
from ._config.options import Options
from ._engines.protocol import Backend, ContainerEngine
from ._engines.transfer import copy_in
from ._errors import BuildFailedError
from ._events import Emitter, Step
from ._layout import CONTAINER
from ._leftovers import INSTANCE_LABELS
from ._logs import mask
from ._manifest import source_digest
from ._model import ImageFacts
from ._scripts.shell import export_word, fill_placeholders, quote
from ._scripts.steps import NO_PACKAGE_MANAGER_EXIT, SETUP_EXIT, SYSTEM_PACKAGES_EXIT

__all__ = ["PREPARED_REPO", "Preparation", "preparation_for", "prepare_environment", "run_logged"]

PREPARE_FORMAT = "2"  # bump when the prepare script changes meaning (2: in the project)
PREPARED_REPO = "localhost/manywheel-env"
IN = CONTAINER.inbox  # preparing always happens in a container
CA_PATHS = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
)


@dataclass(frozen=True)
class Preparation:
    """What preparing needs: the files to copy in, the script, and the cache key."""

    files: dict[str, bytes]
    script: str
    key: str
    # The setup script runs in a copy of the project (as cibuildwheel's before-all does),
    # which stays in the prepared image: what it builds there is in every target's /project.
    with_project: bool = False

    @property
    def tag(self) -> str:
        return f"{PREPARED_REPO}:{self.key}"


def _setup_text(options: Options) -> tuple[str, bytes | None]:
    """The setup script as shell text, or the contents of the file it names."""
    text = options.setup_script.strip()
    if text and "\n" not in text:
        candidate = options.project_dir / text.split()[0]
        if candidate.is_file() and len(text.split()) == 1:
            return f"bash {IN}/setup-script", candidate.read_bytes()
    return text, None


def _repo_files(repos_dir: Path | None) -> dict[str, bytes]:
    if repos_dir is None:
        return {}
    return {f"repos/{p.name}": p.read_bytes() for p in sorted(repos_dir.iterdir()) if p.is_file()}


def _mirror_lines(pm: str, mirror: str) -> list[str]:
    m = mirror.rstrip("/")
    if pm in ("dnf", "yum"):
        return [
            'for f in /etc/yum.repos.d/*.repo; do [ -f "$f" ] || continue',
            "  sed -i -E -e 's%^(mirrorlist|metalink)=%#\\1=%' "
            f"-e 's%^#?[[:space:]]*baseurl[[:space:]]*=[[:space:]]*[a-z]+://[^/]+%baseurl={m}%' \"$f\"",
            "done",
        ]
    if pm == "apt-get":
        return [
            "for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do",
            '  [ -f "$f" ] || continue',
            "  sed -i -E "
            f"-e 's%^(deb(-src)?([[:space:]]+\\[[^]]*\\])?[[:space:]]+)[a-z]+://[^/[:space:]]+%\\1{m}%' "
            f"-e 's%^(URIs:[[:space:]]*)[a-z]+://[^/[:space:]]+%\\1{m}%' \"$f\"",
            "done",
        ]
    return [f"sed -i -E 's%^(@[^ ]+ +)?[a-z]+://[^/]+%\\1{m}%' /etc/apk/repositories"]


def _repo_lines(pm: str) -> list[str]:
    if pm in ("dnf", "yum"):
        cases = '*.repo) cp "$f" /etc/yum.repos.d/ ;; *) mkdir -p /etc/pki/rpm-gpg && cp "$f" /etc/pki/rpm-gpg/ ;;'
    elif pm == "apt-get":
        cases = (
            '*.list|*.sources) cp "$f" /etc/apt/sources.list.d/ ;; '
            '*) mkdir -p /etc/apt/keyrings /etc/apt/trusted.gpg.d && cp "$f" /etc/apt/keyrings/ && '
            'case "$f" in *.gpg|*.asc) cp "$f" /etc/apt/trusted.gpg.d/ ;; esac ;;'
        )
    else:
        cases = '*.pub) cp "$f" /etc/apk/keys/ ;; *) cat "$f" >> /etc/apk/repositories ;;'
    return [f'for f in {IN}/repos/*; do [ -f "$f" ] || continue; case "$f" in {cases} esac; done']


def _install_lines(pm: str, packages: tuple[str, ...]) -> list[str]:
    pkgs = " ".join(quote(p) for p in packages)
    cmd = {
        "dnf": f"dnf install -y {pkgs} && dnf clean all",
        "yum": f"yum install -y {pkgs} && yum clean all",
        "apt-get": "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
        f"--no-install-recommends {pkgs} && rm -rf /var/lib/apt/lists/*",
        "apk": f"apk add --no-cache {pkgs}",
    }[pm]
    return [
        f"say 'installing system packages with {pm}: {' '.join(packages)}'",
        f"if ! ( {cmd} ); then fail 'installing system packages with {pm} failed: check the "
        "names in system-packages and the package repositories (repos-dir, distro-mirror)' "
        f"{SYSTEM_PACKAGES_EXIT}; fi",
    ]


def ca_exports() -> list[str]:
    """Shell lines that point every usual TLS client at the installed bundle, when there is one."""
    names = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "UV_NATIVE_TLS")
    exports = " ".join(
        f"{n}=/etc/manywheel/ca-bundle.crt" if n != "UV_NATIVE_TLS" else f"{n}=1" for n in names
    )
    return [f"if [ -f /etc/manywheel/ca-bundle.crt ]; then export {exports}; fi"]


def pip_exports(options: Options) -> list[str]:
    lines = []
    if options.pip_index_url:
        lines.append(f"export PIP_INDEX_URL={quote(options.pip_index_url)}")
        lines.append(f"export UV_DEFAULT_INDEX={quote(options.pip_index_url)}")
    if options.pip_extra_index_url:
        joined = " ".join(options.pip_extra_index_url)
        lines.append(f"export PIP_EXTRA_INDEX_URL={quote(joined)}")
        lines.append(f"export UV_INDEX={quote(joined)}")
    return lines


def preparation_for(
    options: Options, facts: ImageFacts, base_id: str, sources: str | None = None
) -> Preparation | None:
    """The preparation the options ask for, or None when the base image serves as it is. A
    setup script runs in a copy of the project, so the key covers the project's files
    (``sources``: their digest, as ``source_digest`` gives it; computed when not given)."""
    setup, setup_file = _setup_text(options)
    project = CONTAINER.project
    setup = fill_placeholders(setup, project=project, package=project)
    repos = _repo_files(options.repos_dir)
    ca = options.ca_bundle.read_bytes() if options.ca_bundle else None
    needs_pm = bool(options.system_packages or repos or options.distro_mirror)
    if not (setup or repos or ca or options.system_packages or options.distro_mirror):
        return None
    pm = facts.package_manager
    files: dict[str, bytes] = dict(repos)
    lines = [
        "set -eu",
        "say() { printf 'manywheel: %s\\n' \"$*\"; }",
        'fail() { printf \'manywheel: error: %s\\n\' "$1" >&2; exit "${2:-1}"; }',
    ]
    if needs_pm and pm is None:
        lines.append(
            "fail 'the image has no supported package manager (dnf, yum, apt-get or apk), so "
            f"system-packages, repos-dir and distro-mirror cannot be used' {NO_PACKAGE_MANAGER_EXIT}"
        )
    if ca is not None:
        files["ca-bundle.crt"] = ca
        lines.append(
            "mkdir -p /etc/manywheel && cp " + IN + "/ca-bundle.crt /etc/manywheel/ca-bundle.crt"
        )
        for path in CA_PATHS:
            lines.append(f"if [ -e {path} ]; then cat {IN}/ca-bundle.crt > {path}; fi")
        lines.append("say 'installed the CA bundle as the trust store'")
    lines += ca_exports() + pip_exports(options)
    if pm is not None and options.distro_mirror:
        lines += _mirror_lines(pm, options.distro_mirror)
        lines.append(f"say 'package repositories now use {options.distro_mirror}'")
    if pm is not None and repos:
        lines += _repo_lines(pm)
    if pm is not None and options.system_packages:
        lines += _install_lines(pm, options.system_packages)
    if setup_file is not None:
        files["setup-script"] = setup_file
    if setup:
        files["setup.sh"] = (setup + "\n").encode()
        shell = "bash" if facts.shell == "bash" else "sh"
        lines.append("say 'running setup-script'")
        lines.append("export CIBUILDWHEEL=1")
        if options.environment:
            # As cibuildwheel runs before-all: with `environment` evaluated in the container
            # (a variable it names may be unset here, where no `source` has run).
            lines += ["set +u", *(export_word(k, v) for k, v in options.environment), "set -u"]
        lines.append(
            f"mkdir -p {project} && cd {project} && if ! {shell} -e {IN}/setup.sh; then fail 'setup-script failed (see the lines above)' {SETUP_EXIT}; fi"
        )
    script = "\n".join(lines) + "\n"
    with_project = bool(setup)
    if with_project and sources is None:
        sources = source_digest(options)
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                "format": PREPARE_FORMAT,
                "base": base_id,
                "platform": facts.platform,  # a prepared image serves one architecture
                "script": script,
                "labels": sorted(options.labels),
                "project": sources if with_project else None,  # the files the script sees
            },
            sort_keys=True,
        ).encode()
    )
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return Preparation(files, script, digest.hexdigest()[:20], with_project)


def run_logged(
    engine: Backend,
    ctr: str,
    script: str,
    *,
    options: Options,
    log_path: Path,
    what: str,
    timeout: float,
) -> None:
    """Run ``script`` in ``ctr`` with its output (secrets masked) in ``log_path``;
    BuildFailedError with the log's tail when it fails (``what`` failed)."""
    result = engine.run_script(ctr, script, timeout=timeout)
    masked = mask(result.stdout + result.stderr, options.secret_values())
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(masked)
    if result.returncode != 0:
        tail = "\n".join(masked.strip().splitlines()[-15:])
        raise BuildFailedError(
            f"{what} failed (exit {result.returncode}):\n{tail}", tip=f"full log: {log_path}"
        )


def prepare_environment(
    engine: ContainerEngine,
    options: Options,
    preparation: Preparation,
    base_image: str,
    *,
    container_name: str,
    run_labels: dict[str, str],
    log_path: Path,
    emitter: Emitter,
    arch: str | None = None,
) -> str:
    """Run the preparation in a container (as ``arch``) and commit it; reuse the committed
    image if present."""
    tag = preparation.tag
    if options.cache_prepared and engine.image_id(tag):
        emitter.info(f"prepared environment {tag} is up to date (setup skipped)")
        return tag
    # The cache folder's id labels the image, so that its `cache clean` removes it (whichever
    # cache commits a tag last owns it; the tag is the same for every cache).
    cache = open_cache_root(options.cache_dir, project_dir=options.project_dir)
    emitter.emit("step", f"preparing the build environment ({base_image})", data=Step("prepare"))
    with engine.container(base_image, container_name, labels=run_labels, arch=arch) as ctr:
        copy_in(engine, ctr, IN, files=preparation.files)
        if preparation.with_project:
            copy_in(
                engine,
                ctr,
                CONTAINER.project,
                tree=options.project_dir,
                exclude=options.exclusions(),
            )
        run_logged(
            engine, ctr, preparation.script, options=options, log_path=log_path,
            what="preparing the environment", timeout=6 * 3600,
        )  # fmt: skip
        engine.run_script(ctr, f"rm -rf {IN}")
        labels = {
            **dict(options.labels),
            **dict.fromkeys(INSTANCE_LABELS, ""),
            "manywheel.prepared": "1",
            "manywheel.key": preparation.key,
            "manywheel.base": base_image,
            CACHE_LABEL: str(cache.id),
        }
        engine.commit(ctr, tag, labels)
    emitter.info(f"prepared environment saved as {tag}")
    return tag
