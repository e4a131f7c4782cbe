"""The manywheel command line. Everything else in the package is the library."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Collection, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

from .._arch import LIBCS, expand_archs, runs_natively
from .._builders import Builder, builder_engine, parse_builders
from .._cache import (
    clean_downloads,
    clean_prepared,
    clean_venv_cache,
    list_prepared,
    list_volumes,
    open_cache_root,
)
from .._cacheprune import folder_size
from .._config.cibuildwheel import Translation, overrides_of, to_toml, translate
from .._config.options import Options, load_options, read_toml, write_atomically
from .._config.registry import OPTIONS, OptionSpec, env_name, flag_name, image_key
from .._engines.choice import container_engine_for, host_mode
from .._engines.host import HOST_IMAGE
from .._engines.process import ProcessRegistry
from .._errors import ConfigError, EngineError, ManywheelError
from .._events import Listener
from .._export import export_docker, write_export
from .._leftovers import reap_containers
from .._logs import Masker, default_log_root
from .._merge import github_matrix, merge_reports
from .._model import Assignment, BuilderShare
from .._plan import place_targets
from .._report import load_report, report_data, write_report
from .._run import build, plan
from .._scripts.shell import fill_placeholders
from .._venvcache import list_venvs
from .._version import __version__
from .completion import SHELLS, completion_script
from .doctor import diagnose
from .github import GitHubRenderer, step_summary
from .live import LiveRenderer, use_live_display
from .render import PlainRenderer, format_size, report_table, summary_lines

__all__ = ["entrypoint", "main"]

EXIT_CODES = """\
exit codes:
  0    every target built (or was up to date)
  1    one or more targets failed
  2    configuration or command-line error
  3    nothing to build (the selection matched no target)
  4    container engine missing, unreachable or failed
  5    the wheels could not be written to the output folder
  130  interrupted (SIGINT / Ctrl-C)
  143  terminated (SIGTERM)
"""


class Terminated(BaseException):
    """Raised in the main thread when SIGTERM arrives, so cleanup runs as for Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    raise Terminated


def _add_option_flags(
    parser: argparse.ArgumentParser, names: Collection[str] | None = None
) -> None:
    """The registry's options as flags (``names``: just these), read back by _cli_values."""
    group = parser.add_argument_group(
        "options (each also settable in [tool.manywheel] and as MANYWHEEL_<NAME>)"
    )
    for spec in OPTIONS if names is None else [s for s in OPTIONS if s.name in names]:
        help_text = f"{spec.help} [{env_name(spec.name)}]"
        dest = "opt:" + spec.name
        if spec.kind == "bool":
            group.add_argument(
                flag_name(spec.name),
                dest=dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        elif spec.kind in ("words", "lines", "args", "table", "settings"):
            group.add_argument(
                flag_name(spec.name),
                dest=dest,
                action="append",
                metavar=spec.metavar,
                help=help_text + " (repeatable)",
            )
        else:
            group.add_argument(
                flag_name(spec.name),
                dest=dest,
                metavar=spec.metavar,
                choices=spec.choices or None,
                help=help_text,
            )


def _cli_values(ns: argparse.Namespace) -> dict[str, object]:
    values: dict[str, object] = {}
    specs: dict[str, OptionSpec] = {s.name: s for s in OPTIONS}
    for key, value in vars(ns).items():
        if not key.startswith("opt:") or value is None:
            continue
        spec = specs[key[4:]]
        if spec.kind in ("words", "args"):
            values[spec.name] = " ".join(value) if spec.kind == "words" else list(value)
        elif spec.kind in ("lines", "settings"):
            values[spec.name] = list(value)
        elif spec.kind == "table":
            table: dict[str, str] = {}
            for item in value:
                k, sep, v = item.partition("=")
                if not sep:
                    raise ConfigError(f"{flag_name(spec.name)} {item!r} is not NAME=VALUE")
                table[k] = v
            values[spec.name] = table
        else:
            values[spec.name] = value
    return values


class _Shared:
    """Arguments several commands take, each declared once here; commands add them with
    ``parents=`` (a parent's arguments come first, positionals in the order of the parents)."""

    def __init__(self) -> None:
        self.project = argparse.ArgumentParser(add_help=False)
        self.project.add_argument(
            "project_dir",
            nargs="?",
            default=".",
            help="the project folder (default: .), or an sdist (.tar.gz) to build from",
        )
        self.config = argparse.ArgumentParser(add_help=False)
        self.config.add_argument(
            "--config",
            "--config-file",
            dest="config",
            metavar="FILE",
            help="a manywheel.toml (or a pyproject-style file with [tool.manywheel] or "
            "[tool.cibuildwheel]) read over pyproject.toml; {package} is the project folder",
        )
        self.debug = argparse.ArgumentParser(add_help=False)
        # Also after the command; SUPPRESS keeps a `manywheel --debug COMMAND` from being reset.
        self.debug.add_argument(
            "--debug", "--debug-traceback", dest="debug", action="store_true",
            default=argparse.SUPPRESS, help="show tracebacks for errors",
        )  # fmt: skip

    def all(self) -> list[argparse.ArgumentParser]:
        return [self.project, self.config, self.debug]


def _add_export_merge_completion(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], shared: _Shared
) -> None:
    what = argparse.ArgumentParser(add_help=False)  # before PROJECT_DIR: a parent before it
    what.add_argument("format", choices=("docker",), help="what to write (docker)")
    export = sub.add_parser(
        "export",
        parents=[what, *shared.all()],
        help="write a Dockerfile and a shell script equivalent to the configuration",
        description="Write a Dockerfile (the prepared environment) and build-wheels.sh (one "
        "container per target, wheels checked, then moved into the output folder, cleanup on "
        "failure and Ctrl-C) for a plain-docker workflow. The targets are resolved now, so the "
        "image must be available to the engine.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="the folder to write (default: PROJECT_DIR/manywheel-export)",
    )
    export.add_argument("--only", metavar="IDENTIFIER", help="export just this target")
    _add_option_flags(export)
    merge = sub.add_parser(
        "merge",
        parents=[shared.debug],
        help="combine the reports of several runs (one per CI runner) into one",
        description="Combine reports written with `build --report` (e.g. one per CI matrix "
        "runner) into one report; a target found in two reports is an error. Exit 0 when every "
        "target of every report is ok, 1 otherwise.",
    )
    merge.add_argument("reports", nargs="+", type=Path, metavar="REPORT", help="report.json files")
    merge.add_argument(
        "-o", "--output", type=Path, metavar="PATH", help="write the merged JSON report here"
    )
    merge.add_argument("--json", action="store_true", help="print the merged JSON")
    completion = sub.add_parser(
        "completion",
        parents=[shared.debug],
        help="print a shell completion script",
        description='Print a completion script. bash: eval "$(manywheel completion bash)" '
        "in ~/.bashrc; zsh: the same with zsh in ~/.zshrc; fish: manywheel completion fish > "
        "~/.config/fish/completions/manywheel.fish",
    )
    completion.add_argument("shell", choices=SHELLS)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="manywheel",
        description="Build portable manylinux wheels for every selected CPython, in docker or "
        "podman, into ./dist.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"manywheel {__version__}")
    parser.add_argument(  # its own: it sets the default the commands' --debug leaves alone
        "--debug", action="store_true", help="show tracebacks for errors (before or after COMMAND)"
    )
    shared = _Shared()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, help_text in (
        ("build", "build the wheels into the output folder"),
        ("plan", "show the resolved targets and options without building"),
    ):
        p = sub.add_parser(
            name,
            parents=shared.all(),
            help=help_text,
            description=help_text,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("-v", "--verbose", action="count", default=0, help="show build output")
        p.add_argument("-q", "--quiet", action="count", default=0, help="show less")
        p.add_argument(
            "--only",
            metavar="IDENTIFIER",
            help="build just this target (e.g. cp313-manylinux_x86_64), ignoring build/skip; "
            "for one CI runner per target (see `plan --format github-matrix`)",
        )
        p.add_argument(
            "--platform",
            choices=("linux", "auto"),
            help="as cibuildwheel's: manywheel builds Linux wheels (accepted for cibuildwheel "
            "command lines)",
        )
        if name == "plan":
            p.add_argument(
                "--format",
                choices=("text", "json", "github-matrix"),
                default="text",
                help="text (default); json (targets and options); github-matrix (a JSON "
                "strategy.matrix with one `only` entry per target)",
            )
        else:
            p.add_argument(
                "--report",
                type=Path,
                metavar="PATH",
                help="also write the JSON report here (it is always written beside the logs)",
            )
            p.add_argument(
                "--print-build-identifiers",
                action="store_true",
                help="print the identifiers of the selected targets, one a line, and exit (as "
                "cibuildwheel does)",
            )
        _add_option_flags(p)
    _add_export_merge_completion(sub, shared)
    init = sub.add_parser(
        "init",
        parents=[shared.project, shared.debug],
        help="write a [tool.manywheel] table into pyproject.toml",
        description="Write a [tool.manywheel] table into the project's pyproject.toml. With "
        "--from-cibuildwheel, translate the Linux keys of [tool.cibuildwheel] and say which "
        "keys have no equivalent.",
    )
    init.add_argument(
        "--from-cibuildwheel", action="store_true", help="translate [tool.cibuildwheel]"
    )
    init.add_argument("--stdout", action="store_true", help="print the table instead of writing it")
    report = sub.add_parser(
        "report",
        parents=[shared.debug],
        help="show the report of the last build (or of REPORT) as a table",
        description="Show a build report as a table. Reports are JSON files beside the logs "
        "(never in the output folder), one per run; the last run's is logs/latest/report.json.",
    )
    report.add_argument("path", nargs="?", help="a report.json (default: the last run's)")
    report.add_argument("--json", action="store_true", help="print the JSON itself")
    doctor = sub.add_parser(
        "doctor",
        parents=[shared.project, shared.debug],
        help="check engines, permissions, image, disk and limits; print the fix for each problem",
        description="Check what a build needs on this host and print the fix for each problem. "
        "Exit 0 when nothing fails, 1 otherwise.",
    )
    doctor.add_argument("--engine", choices=("auto", "docker", "podman", "host"), default=None)
    doctor.add_argument("--image", default=None, help="the image to check (default: the config's)")
    doctor.add_argument(
        "--archs",
        action="append",
        default=None,
        metavar="ARCH",
        help="architectures to check emulation for (default: the config's 'archs')",
    )
    cache = sub.add_parser(
        "cache",
        help="list or remove prepared environments and downloads",
        description="Prepared environments are local images tagged localhost/manywheel-env:<hash>, "
        "labelled with the id of the cache folder whose build made them.",
    )
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION")
    cache_sub.required = True
    for name, help_text, what in (
        ("list", "list the prepared-environment images", " and its cached build venvs"),
        ("clean", "remove the prepared-environment images", ", its cached build venvs and "
         "(--downloads) its downloads"),
    ):  # fmt: skip
        c = cache_sub.add_parser(
            name,
            parents=shared.all(),
            help=help_text,
            description=f"{help_text.capitalize()} this cache folder made{what}. "
            "Only a folder manywheel made (it holds a .manywheel-cache marker) is cleaned, and only "
            "manywheel's parts of it; a cache-dir that is the project, home or root folder, a "
            "folder above them or another folder of files is refused (exit 2). engine and "
            "cache-dir come from the project's configuration, MANYWHEEL_ENGINE / "
            "MANYWHEEL_CACHE_DIR and these flags, as for build.",
        )
        c.add_argument(
            "--all",
            action="store_true",
            help=f"{help_text.split()[0]} every manywheel prepared image on the engine, whichever cache folder "
            "(or older manywheel) made it",
        )
        if name == "clean":
            c.add_argument(
                "--downloads",
                action="store_true",
                help="also remove the download caches and toolchains (the downloads/ and toolchains/"
                " parts, shared/ of older versions, and with --builders their volumes there)",
            )
        _add_option_flags(c, ("engine", "cache-dir", "builders"))
    return parser


def _options(ns: argparse.Namespace) -> Options:
    cli = _cli_values(ns)
    if getattr(ns, "only", None):
        if not re.fullmatch(r"(cp\d+t?|pp\d+|gp\d+_\d+)-[a-z]+linux_\w+", ns.only):
            raise ConfigError(
                f"--only {ns.only!r} is not a target identifier",
                tip="use one of the identifiers `manywheel plan` lists, e.g. cp313-manylinux_x86_64",
            )
        # Its group need not be enabled: naming it in `python` builds it whatever its group.
        cli.update({"build": ns.only, "skip": "", "python": ns.only})
    return load_options(ns.project_dir, cli=cli, config_file=_config_file(ns))


def _config_file(ns: argparse.Namespace) -> Path | None:
    """--config / --config-file, with cibuildwheel's {package} placeholder filled in."""
    if not getattr(ns, "config", None):
        return None
    return Path(fill_placeholders(ns.config, package=str(ns.project_dir)))


def _print_plan(options: Options, listener: Listener, fmt: str) -> int:
    result = plan(options, listener)
    # Each CI runner of a github matrix is its own machine: builders do not apply there.
    # (plan() reached the builders already, and warned of each that does not answer.)
    placed = place_targets(options, result.targets) if fmt != "github-matrix" else None
    hide = Masker(options.secret_values())

    def show(text: str) -> None:  # every format: no secret value, wherever it appears
        print(hide(text))

    if fmt == "github-matrix":
        show(json.dumps(github_matrix(result)))
        return 0
    if fmt == "json":
        data: dict[str, object] = {}
        if len(result.images) == 1:  # as before the matrix
            first = result.images[0]
            data = {"image": first.image, "image_id": first.image_id, "platform": first.platform}
        data |= {
            "images": [
                {
                    "image": im.image,
                    "image_id": im.image_id,
                    "platform": im.platform,
                    "key": im.key,
                }
                for im in result.images
            ],
            "targets": [
                {
                    "identifier": t.identifier,
                    "version": t.version,
                    "python": t.python,
                    "platform": t.platform,
                    "image": result.image_for(t).image,
                }
                | ({} if placed is None else {"builder": placed.share_of(t.identifier).name})
                for t in result.targets
            ],
        }
        if placed is not None:
            data["builders"] = [asdict(share) for share in placed.shares]
        show(json.dumps(data, indent=2))
        return 0
    for im in result.images:  # (with builders, each target's line says how it runs)
        native = placed is not None or runs_natively(im.platform.split("_", 1)[1])
        emulated = "" if native else ", emulated"
        show(f"image:    {im.image} ({im.image_id[:19]})")
        show(f"platform: {im.platform}{emulated}")
    if placed is not None:
        show("builders:")
        for share in placed.shares:
            show(f"  {share.name}  {_builder_line(share)}")
    show("targets:")
    for t in result.targets:
        where = "" if placed is None else f"  on {_placement(placed, t.identifier)}"
        show(f"  {t.identifier}  (Python {t.version}, {t.python}){where}")
    show("options:")
    for spec in OPTIONS:
        value = getattr(options, spec.field)
        if spec.name == "environment":
            secret = options.secret_names()
            value = tuple((k, "***" if k in secret else v) for k, v in value)
        show(f"  {spec.name} = {value!r}")
    return 0


def _builder_line(share: BuilderShare) -> str:
    """A builder of the plan: what it is, and how it builds its targets."""
    where = "" if share.endpoint == share.name else f" ({share.endpoint})"
    what = f"{share.engine} {share.version}{where}, {share.arch}, {share.cpus} cores"
    if not share.targets:
        return f"{what}: no target"
    count = f"{len(share.targets)} target{'s' if len(share.targets) > 1 else ''}"
    return f"{what}: {count}, {share.at_once} at once, {share.cores_per_target} cores each"


def _placement(placed: Assignment, identifier: str) -> str:
    """Where a target builds: the builder, and how it runs the target's architecture."""
    share = placed.share_of(identifier)
    if identifier in share.unchecked:
        return f"{share.name}, emulated (whether it has QEMU is not known until tried)"
    return share.name + (", emulated" if identifier in share.emulated else "")


def _doctor(ns: argparse.Namespace) -> int:
    cli: dict[str, object] = {}
    if ns.engine:
        cli["engine"] = ns.engine
    if ns.image:
        cli["image"] = ns.image
    if ns.archs:
        cli["archs"] = " ".join(ns.archs)
    archs: tuple[str, ...] = ()
    builders: tuple[Builder, ...] = ()
    images: list[tuple[str | None, str]] = []
    try:
        options = load_options(ns.project_dir, cli=cli)
        image, engine_choice, output_dir = options.image, options.engine, options.output_dir
        specs = options.image_specs()
        archs = tuple(dict.fromkeys(s.arch for s in specs if s.arch is not None))
        images = [(s.arch, s.image) for s in specs]
        if specs[0].key != "image" or len(specs) > 1:
            image = specs[0].image  # the matrix's first image stands for the engine checks
        builders = parse_builders(options.builders, engine=options.engine)
    except ConfigError as e:  # doctor still checks the host when the config is broken
        print(f"config: FAIL  {e.message}")
        defaults = Options(Path(ns.project_dir))
        image, engine_choice = ns.image or defaults.image, ns.engine or defaults.engine
        output_dir = defaults.output_dir
    engines = ["docker", "podman"] if engine_choice == "auto" else [engine_choice]
    checks = diagnose(engines, image, output_dir, archs, builders=builders, images=images)
    for c in checks:
        print(f"{c.engine:7} {c.name:22} {c.status.upper():5} {c.detail}")
        if c.fix and c.status in ("fail", "warn"):
            print(f"{'':7} {'':22} fix:  {c.fix}")
    usable = {c.engine for c in checks if c.name == "run" and c.status == "ok"}
    failed = [c for c in checks if c.status == "fail"]
    if engine_choice == "auto" and usable:
        failed = [c for c in failed if c.engine in usable or c.engine not in engines]
    if builders and not any(b.local for b in builders):  # this machine's engine is not used
        failed = [c for c in failed if c.engine not in engines]
    print("doctor: " + ("no problem found" if not failed else f"{len(failed)} problem(s)"))
    return 1 if failed else 0


def _cache(ns: argparse.Namespace) -> int:
    options = load_options(ns.project_dir, cli=_cli_values(ns), config_file=_config_file(ns))
    # Refuses a folder manywheel did not make before anything else happens.
    root = open_cache_root(options.cache_dir, project_dir=options.project_dir, create=False)
    # Host mode keeps no prepared images; the venvs and downloads are still there.
    engine = container_engine_for(options.engine)
    where = engine.name if engine else "host mode"
    mine = list_prepared(engine, root.id, every=ns.all) if engine is not None else []
    others = len(list_prepared(engine, None, every=True)) - len(mine) if engine is not None else 0
    if ns.cache_command == "list":
        for image in mine:
            print(f"{image.tag}  {image.image_id[:19]}  {image.created}  {image.size}")
        scope = "" if ns.all else " from this cache folder"
        print(f"{len(mine)} prepared environment(s){scope} in {where}")
        venvs = list_venvs(root.path)
        size = sum(v.stat().st_size for v in venvs)
        print(f"{len(venvs)} cached build venv(s), {format_size(size)}, in {root.path / 'venvs'}")
        downloads = root.path / "downloads"
        projects = [p for p in downloads.iterdir() if p.is_dir()] if downloads.is_dir() else []
        size = sum(folder_size(p) for p in projects)
        print(f"downloads of {len(projects)} project(s), {format_size(size)}, in {downloads}")
        days = options.cache_keep_days
        kept = f"until {days} days unused" if days > 0 else "until `manywheel cache clean`"
        print(
            f"cache folder: {root.path} (a project's venvs and downloads, and the prepared "
            f"environments, are kept {kept})"
        )
    else:
        for name, owner in reap_containers(engine) if engine is not None else []:
            print(f"removed container {name}, left by a killed manywheel run (pid {owner.pid})")
        if ns.all and engine is not None:
            print(f"removing every manywheel prepared image in {engine.name} (--all)")
        for tag in clean_prepared(engine, mine) if engine is not None else []:
            print(f"removed {tag}")
        removed = clean_venv_cache(root)
        if removed:
            print(f"removed {len(removed)} cached build venv(s) from {root.path / 'venvs'}")
        for part in clean_downloads(root) if ns.downloads else []:
            print(f"removed {part}")
    if others > 0 and not ns.all:
        print(
            f"{others} other prepared environment(s) in {where} (from other cache folders or "
            f"older manywheel versions) left alone; `manywheel cache {ns.cache_command} --all` "
            f"{'lists' if ns.cache_command == 'list' else 'removes'} them too"
        )
    for builder in parse_builders(options.builders, engine=options.engine):
        if not builder.local:
            _cache_on_builder(ns, builder, root.id)
    return 0


def _cache_on_builder(ns: argparse.Namespace, builder: Builder, cache_id: str | None) -> None:
    """``cache list`` or ``clean`` on a builder other than this machine's engine: the
    prepared images this cache committed there, and its cache volumes (``--downloads``)."""
    try:
        engine = builder_engine(builder, ProcessRegistry())
        images = list_prepared(engine, cache_id, every=ns.all)
        volumes = list_volumes(engine, cache_id, every=ns.all)
        if ns.cache_command == "list":
            for image in images:
                print(f"{builder.name}: {image.tag}  {image.image_id[:19]}  {image.created}")
            for volume in volumes:
                print(f"{builder.name}: volume {volume}")
            print(
                f"builder {builder.name}: {len(images)} prepared environment(s), "
                f"{len(volumes)} cache volume(s)"
            )
            return
        for name, owner in reap_containers(engine):
            print(
                f"removed container {name} on {builder.name}, left by a killed run (pid {owner.pid})"
            )
        for tag in clean_prepared(engine, images):
            print(f"removed {tag} on {builder.name}")
        if ns.downloads:
            engine.remove_volumes(volumes)
            for volume in volumes:
                print(f"removed volume {volume} on {builder.name}")
    except EngineError as e:
        print(f"builder {builder.name}: {e.message}", file=sys.stderr)


def _build(options: Options, listener: Listener, quiet: bool, report: Path | None) -> int:
    result = build(options, listener)
    _close(listener)
    data = report_data(result)
    if result.log_dir is not None:
        result.report = write_report(data, result.log_dir / "report.json")
    if report is not None:
        write_report(data, report.absolute())
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if os.environ.get("GITHUB_ACTIONS") == "true" and summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(step_summary(result))
    if not quiet or not result.ok:
        print("\n".join(summary_lines(result)))
    return 0 if result.ok else 1


def _export(ns: argparse.Namespace, listener: Listener) -> int:
    options = _options(ns)
    if host_mode(options.engine):
        raise ConfigError(
            "export docker writes a container build, so it cannot use engine = 'host'",
            tip="use --engine docker or podman (it resolves the targets in the image)",
        )
    resolved = plan(options, listener)
    if resolved.images[0].image == HOST_IMAGE:  # auto fell back to host mode: no image to export
        raise EngineError(
            "export docker needs a working container engine to inspect the image",
            tip="start docker or podman (`manywheel doctor` shows what is wrong)",
        )
    folder = (ns.output or options.project_dir / "manywheel-export").absolute()
    files = export_docker(options, resolved)
    write_export(files, folder, options.project_dir)
    print(f"wrote {len(files)} file(s) to {folder}")
    print(f"run: bash {folder / 'build-wheels.sh'}   (ENGINE=podman for podman)")
    return 0


def _merge(ns: argparse.Namespace) -> int:
    reports = []
    for path in ns.reports:
        try:
            reports.append((path, load_report(path)))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read the report {path}: {e}") from None
    merged = merge_reports(reports)
    for warning in merged["warnings"]:
        print(f"manywheel: warning: {warning}", file=sys.stderr)
    if ns.output is not None:
        write_report(merged, ns.output.absolute())
    if ns.json:
        print(json.dumps(merged, indent=2))
    else:
        print("\n".join(report_table(merged)))
    return 0 if merged["ok"] else 1


def _listener(verbosity: int) -> Listener:
    """How the CLI shows events: GitHub Actions commands, live rows on a terminal, or lines."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return GitHubRenderer(sys.stderr, verbosity)
    if verbosity == 1 and use_live_display(sys.stderr):
        return LiveRenderer(sys.stderr, verbosity)
    return PlainRenderer(sys.stderr, verbosity)


def _default_images(found: Translation) -> dict[str, str]:
    """cibuildwheel's images for the platforms its `archs` give on this machine (written out:
    manywheel's own defaults are newer policies)."""
    words = found.values.get("archs") or ()
    try:
        archs = expand_archs(tuple(words.split() if isinstance(words, str) else words))
    except ValueError:
        return {}
    keys = {image_key(libc, arch) for libc in LIBCS for arch in archs}
    return {k: v for k, v in found.default_images.items() if k in keys}


def _init(ns: argparse.Namespace) -> int:
    pyproject = Path(ns.project_dir) / "pyproject.toml"
    tool = read_toml(pyproject).get("tool", {}) if pyproject.is_file() else {}
    if "manywheel" in tool and not ns.stdout:
        raise ConfigError(
            f"{pyproject} already has [tool.manywheel]", tip="edit it, or use --stdout to compare"
        )
    values: dict[str, object] = {}
    overrides: list[dict[str, object]] = []
    if ns.from_cibuildwheel:
        if not isinstance(tool.get("cibuildwheel"), dict):
            raise ConfigError(f"{pyproject} has no [tool.cibuildwheel] table")
        try:
            found = translate(tool["cibuildwheel"])
            overrides, left_out = overrides_of(tool["cibuildwheel"])
        except ValueError as e:
            raise ConfigError(str(e)) from None
        values = {**found.values, **_default_images(found)}
        for item in [*found.ignored, *left_out]:
            print(f"manywheel: not carried over: {item}", file=sys.stderr)
        for item in found.warnings:
            print(f"manywheel: warning: {item}", file=sys.stderr)
    text = to_toml(values, overrides)
    if ns.stdout:
        print(text, end="")
        return 0
    old = pyproject.read_text() if pyproject.is_file() else ""
    write_atomically(pyproject, old.rstrip("\n") + ("\n\n" if old else "") + text)
    print(f"wrote [tool.manywheel] ({len(values)} key(s)) to {pyproject}")
    return 0


def _report(ns: argparse.Namespace) -> int:
    path = Path(ns.path) if ns.path else default_log_root() / "latest" / "report.json"
    try:
        data = load_report(path)
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"cannot read the report {path}: {e}",
            tip="run `manywheel build` first, or pass the path of a report.json",
        ) from None
    if ns.json:
        print(json.dumps(data, indent=2))
        return 0
    print("\n".join(report_table(data)))
    return 0 if data.get("ok") else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    ns = parser.parse_args(argv)
    if os.environ.get("CIBW_DEBUG_TRACEBACK", "").lower() in ("1", "true", "yes", "on", "y", "t"):
        ns.debug = True  # cibuildwheel's variable for the same
    verbosity = 1 + getattr(ns, "verbose", 0) - getattr(ns, "quiet", 0)
    listener = _listener(verbosity)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
        # `kill -USR1 <pid>`: every thread's stack on stderr, and the run goes on (a run that
        # seems stuck says where)
        with contextlib.suppress(ValueError, OSError):  # (no stderr file: no dump)
            faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)
    try:
        if ns.command == "cache":
            return _cache(ns)
        if ns.command == "doctor":
            return _doctor(ns)
        if ns.command == "report":
            return _report(ns)
        if ns.command == "init":
            return _init(ns)
        if ns.command == "completion":
            print(completion_script(make_parser(), ns.shell), end="")
            return 0
        if ns.command == "merge":
            return _merge(ns)
        if ns.command == "export":
            return _export(ns, listener)
        options = _options(ns)
        if ns.command == "plan":
            return _print_plan(options, listener, ns.format)
        if ns.print_build_identifiers:
            for target in plan(options, listener).targets:
                print(target.identifier)
            return 0
        return _build(options, listener, quiet=verbosity <= 0, report=ns.report)
    except ManywheelError as e:
        _close(listener)
        if ns.debug:
            traceback.print_exc()
        print(f"manywheel: error: {e.message}", file=sys.stderr)
        if e.tip:
            print(f"manywheel: tip: {e.tip}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a file we must read or write: say which, without a traceback
        if ns.debug:
            traceback.print_exc()
        print(
            f"manywheel: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        _close(listener)
        print(
            "manywheel: interrupted; containers removed, output folder unchanged", file=sys.stderr
        )
        return 130
    except Terminated:
        _close(listener)
        print("manywheel: terminated; containers removed, output folder unchanged", file=sys.stderr)
        return 143


def _close(listener: Listener) -> None:
    close = getattr(listener, "close", None)
    if close is not None:
        close()


def entrypoint() -> NoReturn:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
