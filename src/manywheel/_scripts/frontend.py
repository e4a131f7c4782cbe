"""The command that builds a target's wheel with the configured frontend, as cibuildwheel runs
each one: ``build`` (``python -m build``; ``build[uv]`` with uv as its installer), ``pip``
(``pip wheel``) or ``uv`` (``uv build``), each with the config settings (``-C``), the
frontend's own arguments and cibuildwheel's verbosity flags."""

from __future__ import annotations

from .._config.options import Options
from .shell import fill_placeholders, quote

__all__ = ["frontend_command", "native_frontend_command", "uses_uv", "verbosity_flags"]


def uses_uv(options: Options) -> bool:
    """build[uv] and uv need uv; they make the installer uv where it is auto."""
    return options.build_frontend in ("build[uv]", "uv")


def verbosity_flags(level: int, frontend: str) -> list[str]:
    """cibuildwheel's build-verbosity flags: -1 is -q, 2 is -v (pip: -vv), and so on."""
    if level < 0:
        return ["-" + "q" * -level]
    if level > 0 and frontend == "pip":
        return ["-" + "v" * level]
    if level > 1:
        return ["-" + "v" * (level - 1)]
    return []


def _settings(options: Options, project: str) -> list[str]:
    return [
        "-C" + fill_placeholders(f"{k}={v}", project=project, package=project)
        for k, v in options.config_settings
    ]


def native_frontend_command(
    options: Options,
    outdir: str,
    project: str,
    script: str,
    *,
    hook_server: str,
    compile_with: str | None = None,
) -> str:
    """The same build as build's (isolated, with uv, no arguments of the user's) by
    native-build.py (``script``) on the native Python ``$mw_native``, with build from the
    folders ``$mw_nb_paths``. Reads ``$mw_iso`` (--installer=uv and --env-dir).
    ``hook_server``: hook-server.py, which forks the hooks of a known backend from one process
    that imported it. ``compile_with``: a native Python of the target's version, which compiles
    the isolated environment's bytecode."""
    settings = " ".join(quote(w) for w in _settings(options, project))
    twin = f" --compile-with {quote(compile_with)}" if compile_with else ""
    return (
        f'"$mw_native" -s {script} --paths "$mw_nb_paths" --python "$(command -v python)"'
        f' --uv "$mw_nb_uv" --hook-server {quote(hook_server)}{twin} --outdir={outdir}'
        f" $mw_iso{' ' + settings if settings else ''} ."
    )


def frontend_command(options: Options, outdir: str, project: str) -> str:
    """A shell line that builds the project (the working folder) into ``outdir``. For build
    it reads ``$mw_installer`` (uv or pip), chosen earlier in the script."""
    frontend = options.build_frontend
    settings = _settings(options, project)
    extra = [*settings, *options.build_frontend_args]
    extra += verbosity_flags(options.build_verbosity, frontend)
    words = " ".join(quote(w) for w in extra)
    tail = f" {words}" if words else ""
    if frontend == "pip":
        iso = "" if options.build_isolation else " --no-build-isolation"
        return f"python -m pip wheel . --no-deps --wheel-dir={outdir}{iso}{tail}"
    if frontend == "uv":
        iso = "" if options.build_isolation else " --no-build-isolation"
        return f'uv build --python "$(command -v python)" . --wheel --out-dir={outdir}{iso}{tail}'
    if not options.build_isolation:
        return f"python -m build . --wheel --outdir={outdir} --no-isolation{tail}"
    if "--no-isolation" in extra or "-n" in extra:
        return f"python -m build . --wheel --outdir={outdir}{tail}"
    # pip is build's default installer; --installer needs build >= 1.2, so only uv names it.
    # $mw_iso: --installer=uv, and --env-dir (reproducible builds): words, unquoted.
    return f"python -m build . --wheel --outdir={outdir} $mw_iso{tail}"
