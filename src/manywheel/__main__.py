"""The manywheel command line. Everything else in the package is the library."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from . import __version__
from ._errors import ConfigError, ManywheelError
from ._events import Listener
from ._options import Options, load_options
from ._registry import OPTIONS, OptionSpec, env_name, flag_name
from ._render import PlainRenderer, summary_lines
from ._run import build, plan

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


def _add_option_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "options (each also settable in [tool.manywheel] and as MANYWHEEL_<NAME>)"
    )
    for spec in OPTIONS:
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
        elif spec.kind in ("words", "lines", "args", "table"):
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
        elif spec.kind == "lines":
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


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="manywheel",
        description="Build portable manylinux wheels for every selected CPython, in docker or "
        "podman, into ./dist.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"manywheel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, help_text in (
        ("build", "build the wheels into the output folder"),
        ("plan", "show the resolved targets and options without building"),
    ):
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument(
            "project_dir", nargs="?", default=".", help="the project folder (default: .)"
        )
        p.add_argument(
            "--config", type=Path, help="a manywheel.toml to read besides pyproject.toml"
        )
        p.add_argument("-v", "--verbose", action="count", default=0, help="show build output")
        p.add_argument("-q", "--quiet", action="count", default=0, help="show less")
        p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
        _add_option_flags(p)
    return parser


def _options(ns: argparse.Namespace) -> Options:
    return load_options(ns.project_dir, cli=_cli_values(ns), config_file=ns.config)


def _print_plan(options: Options, listener: Listener) -> int:
    result = plan(options, listener)
    print(f"image:    {result.image} ({result.image_id[:19]})")
    print(f"platform: {result.facts.platform}")
    print("targets:")
    for t in result.targets:
        print(f"  {t.identifier}  (Python {t.version}, {t.python})")
    print("options:")
    for spec in OPTIONS:
        value = getattr(options, spec.field)
        if spec.name == "environment":
            secret = set(options.secret_values())
            value = tuple((k, "***" if v in secret else v) for k, v in value)
        print(f"  {spec.name} = {value!r}")
    return 0


def _build(options: Options, listener: Listener, quiet: bool) -> int:
    result = build(options, listener)
    if not quiet or not result.ok:
        print("\n".join(summary_lines(result)))
    return 0 if result.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    ns = parser.parse_args(argv)
    verbosity = 1 + ns.verbose - ns.quiet
    listener = PlainRenderer(sys.stderr, verbosity)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        options = _options(ns)
        if ns.command == "plan":
            return _print_plan(options, listener)
        return _build(options, listener, quiet=verbosity <= 0)
    except ManywheelError as e:
        if ns.debug:
            traceback.print_exc()
        print(f"manywheel: error: {e.message}", file=sys.stderr)
        if e.tip:
            print(f"manywheel: tip: {e.tip}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(
            "manywheel: interrupted; containers removed, output folder unchanged", file=sys.stderr
        )
        return 130
    except Terminated:
        print("manywheel: terminated; containers removed, output folder unchanged", file=sys.stderr)
        return 143


def entrypoint() -> NoReturn:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()
