"""One frozen options model, merged from pyproject.toml/manywheel.toml, environment and CLI."""

from __future__ import annotations

import difflib
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._arch import ARCHS, LIBCS
from .._errors import ConfigError
from .._scripts.shell import dquote, split_assignments, word_value
from .cibuildwheel import translate
from .exclude import Exclusions, bad_glob, vcs_versioning
from .matrix import ImageSpec, image_specs
from .registry import OPTIONS, OptionSpec, env_name, flag_name, image_key, spec_for
from .requirements import requirement_files

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Layer", "Options", "check_cache_dir", "load_options", "read_toml", "write_atomically"]

_PY_SELECTOR = re.compile(r"^(\d+\.\d+t?|(cp|pp)[A-Za-z0-9_*?\[\]!-]*)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|CREDENTIAL", re.IGNORECASE)


def _project_relative(spec: OptionSpec) -> bool:
    """A path option whose default is relative to the project folder (output-dir: dist)."""
    return spec.kind == "path" and isinstance(spec.default, str)


def _default_of(name: str) -> Any:
    """The default of an ``Options`` field: its option's, from the registry (declared only
    there). A project-relative path is None here, resolved by ``Options.__post_init__``."""
    spec = spec_for(name)
    if spec is None:
        raise LookupError(f"no option {name!r} in the registry")
    return None if _project_relative(spec) else spec.default


@dataclass(frozen=True)
class Options:
    """Everything one run needs. ``load_options`` resolves and validates it; constructed
    directly, each option not given takes the registry's default (as with no configuration),
    a path default relative to the project (output-dir) resolved against ``project_dir``."""

    project_dir: Path
    config_files: tuple[Path, ...] = ()
    image: str = _default_of("image")
    archs: tuple[str, ...] = _default_of("archs")
    libc: tuple[str, ...] = _default_of("libc")
    # The per-platform image keys (registry: image_key), read through image_keys().
    manylinux_x86_64_image: tuple[str, ...] = _default_of("manylinux-x86_64-image")
    manylinux_i686_image: tuple[str, ...] = _default_of("manylinux-i686-image")
    manylinux_aarch64_image: tuple[str, ...] = _default_of("manylinux-aarch64-image")
    manylinux_ppc64le_image: tuple[str, ...] = _default_of("manylinux-ppc64le-image")
    manylinux_s390x_image: tuple[str, ...] = _default_of("manylinux-s390x-image")
    manylinux_armv7l_image: tuple[str, ...] = _default_of("manylinux-armv7l-image")
    manylinux_riscv64_image: tuple[str, ...] = _default_of("manylinux-riscv64-image")
    musllinux_x86_64_image: tuple[str, ...] = _default_of("musllinux-x86_64-image")
    musllinux_i686_image: tuple[str, ...] = _default_of("musllinux-i686-image")
    musllinux_aarch64_image: tuple[str, ...] = _default_of("musllinux-aarch64-image")
    musllinux_ppc64le_image: tuple[str, ...] = _default_of("musllinux-ppc64le-image")
    musllinux_s390x_image: tuple[str, ...] = _default_of("musllinux-s390x-image")
    musllinux_armv7l_image: tuple[str, ...] = _default_of("musllinux-armv7l-image")
    musllinux_riscv64_image: tuple[str, ...] = _default_of("musllinux-riscv64-image")
    engine: str = _default_of("engine")
    engine_args: tuple[str, ...] = _default_of("engine-args")
    pull: str = _default_of("pull")
    python: tuple[str, ...] = _default_of("python")
    build: tuple[str, ...] = _default_of("build")
    skip: tuple[str, ...] = _default_of("skip")
    build_requirements: Path | None = _default_of("build-requirements")
    build_isolation: bool = _default_of("build-isolation")
    installer: str = _default_of("installer")  # auto | pip | uv
    system_packages: tuple[str, ...] = _default_of("system-packages")
    repos_dir: Path | None = _default_of("repos-dir")
    pip_index_url: str | None = _default_of("pip-index-url")
    pip_extra_index_url: tuple[str, ...] = _default_of("pip-extra-index-url")
    distro_mirror: str | None = _default_of("distro-mirror")
    ca_bundle: Path | None = _default_of("ca-bundle")
    setup_script: str = _default_of("setup-script")
    source: tuple[str, ...] = _default_of("source")
    # (NAME, shell word): exported as `export NAME=word`, so $VAR and $(cmd) expand in the
    # build container and single quotes stay literal, as in cibuildwheel.
    environment: tuple[tuple[str, str], ...] = _default_of("environment")
    secret_environment: tuple[str, ...] = _default_of("secret-environment")
    build_command: str | None = _default_of("build-command")
    repair_command: str = _default_of("repair-command")
    repair_plat: str = _default_of("repair-plat")
    before_build: str = _default_of("before-build")
    test_requires: tuple[str, ...] = _default_of("test-requires")
    test_command: str | None = _default_of("test-command")
    test_skip: tuple[str, ...] = _default_of("test-skip")
    exclude: tuple[str, ...] = _default_of("exclude")
    copy_vcs: str = _default_of("copy-vcs")  # auto | always | never
    output_dir: Path = _default_of("output-dir")
    labels: tuple[tuple[str, str], ...] = _default_of("labels")
    jobs: int = _default_of("jobs")
    force: bool = _default_of("force")
    reproducible: bool = _default_of("reproducible")
    check_reproducible: bool = _default_of("check-reproducible")
    cache_prepared: bool = _default_of("cache-prepared")
    cache_venv: bool = _default_of("cache-venv")
    cache_dir: Path | None = _default_of("cache-dir")
    shared_cache: bool = _default_of("shared-cache")
    ccache: bool = _default_of("ccache")
    log_dir: Path | None = _default_of("log-dir")
    notes: tuple[str, ...] = ()  # warnings about the configuration (e.g. ignored cibuildwheel keys)
    # Per-platform image keys' defaults from the configuration's source ((key, image) pairs:
    # cibuildwheel's when read from [tool.cibuildwheel]); a key set anywhere, or `image` for
    # manylinux on this machine's architecture, wins over them.
    default_images: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # The one place where a default depends on the project, and where None stands for
        # "empty" in a string option with a default (repair-command None: no repair).
        set_ = object.__setattr__  # frozen
        set_(self, "project_dir", Path(self.project_dir).absolute())
        for spec in OPTIONS:
            if getattr(self, spec.field) is not None:
                continue
            if _project_relative(spec):
                set_(self, spec.field, (self.project_dir / str(spec.default)).absolute())
            elif spec.kind in ("str", "text") and spec.default is not None:
                set_(self, spec.field, "")

    def image_keys(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """The per-platform image keys that are set, by (libc, arch)."""
        keys = {
            (libc, arch.name): getattr(self, image_key(libc, arch.name).replace("-", "_"))
            for libc in LIBCS
            for arch in ARCHS
        }
        return {k: v for k, v in keys.items() if v}

    def image_specs(
        self, where: str = "configuration", origin: Mapping[str, str] | None = None
    ) -> tuple[ImageSpec, ...]:
        """The images this run builds in (see ``matrix``; ``origin``: where each key was set)."""
        return image_specs(
            self.archs,
            self.libc,
            self.image_keys(),
            self.image,
            defaults=dict(self.default_images),
            where=where,
            origin=origin,
        )

    def secret_names(self) -> tuple[str, ...]:
        """Variables whose values are secret: secret-environment, and the environment
        entries named like a secret (*TOKEN*, *PASSWORD*, *SECRET*, *API_KEY*, ...)."""
        named = [k for k, _ in self.environment if _SECRET_NAME.search(k)]
        return tuple(dict.fromkeys([*self.secret_environment, *named]))

    def secret_values(self) -> tuple[str, ...]:
        """Values that must never be shown: secret-environment and *TOKEN*-like variables."""
        values = [word_value(v) for k, v in self.environment if _SECRET_NAME.search(k)]
        values = [v for v in values if v]
        values += [os.environ[k] for k in self.secret_environment if os.environ.get(k)]
        return tuple(values)

    def own_folders(self) -> tuple[Path, ...]:
        """manywheel's folders (output, cache, logs): when they lie inside the project, they
        are neither copied into builds nor part of its fingerprint."""
        return tuple(p for p in (self.output_dir, self.cache_dir, self.log_dir) if p is not None)

    def exclusions(self) -> Exclusions:
        """What of the project stays out of builds, exports and fingerprints besides the host
        caches: manywheel's folders, the ``exclude`` globs, and VCS metadata unless the
        project computes its version from it (then it is copied, as cibuildwheel does)."""
        keep_vcs = self.copy_vcs == "always" or (
            self.copy_vcs == "auto" and vcs_versioning(self.project_dir) is not None
        )
        return Exclusions(self.own_folders(), self.exclude, vcs=not keep_vcs)

    def effective_jobs(self, targets: int) -> int:
        """Targets to run at once. Auto runs them all together (up to 2 per core): with fewer
        targets left than cores, a one-per-core limit would leave cores idle while the last
        target compiles alone; sharing the cores makes the run end at total work / cores."""
        wanted = self.jobs if self.jobs > 0 else 2 * (os.cpu_count() or 1)
        return max(1, min(wanted, targets))


@dataclass(frozen=True)
class Layer:
    """Raw values from one source, with the words used to name it in errors."""

    values: Mapping[str, Any]
    where: str  # e.g. "pyproject.toml [tool.manywheel]"
    base_dir: Path  # relative paths resolve against it
    style: str  # "file", "env" or "cli": how a key is named in messages
    notes: tuple[str, ...] = ()  # what the user should know about this source
    default_images: tuple[tuple[str, str], ...] = ()  # see Options.default_images

    def key_name(self, name: str) -> str:
        if self.style == "env":
            return env_name(name)
        if self.style == "cli":
            return flag_name(name)
        return name


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return dict(tomllib.load(f))
    except tomllib.TOMLDecodeError as e:  # type: ignore[misc,unused-ignore]
        raise ConfigError(
            f"{path}: invalid TOML: {e}", tip="fix the syntax error at the line and column shown"
        ) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one rename, keeping its permissions; never a half-written file."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _file_layers(project_dir: Path, config_file: Path | None) -> list[Layer]:
    layers: list[Layer] = []
    pyproject = project_dir / "pyproject.toml"
    if pyproject.is_file():
        tool = read_toml(pyproject).get("tool", {})
        table = tool.get("manywheel")
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError(f"{pyproject}: [tool.manywheel] must be a table")
            layers.append(Layer(table, f"{pyproject} [tool.manywheel]", project_dir, "file"))
        elif isinstance(tool.get("cibuildwheel"), dict):
            found = translate(tool["cibuildwheel"])
            where = f"{pyproject} [tool.cibuildwheel]"
            notes = tuple(f"{where}: ignored {item}" for item in found.ignored)
            defaults = tuple(found.default_images.items())
            layers.append(Layer(found.values, where, project_dir, "file", notes, defaults))
    extra = config_file or (project_dir / "manywheel.toml")
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist")
    if extra.is_file():
        data = read_toml(extra)
        table = data.get("tool", {}).get("manywheel", data) if "tool" in data else data
        layers.append(Layer(table, str(extra), extra.parent, "file"))
    return layers


def _env_layer(environ: Mapping[str, str]) -> Layer:
    values = {
        spec.name: environ[env_name(spec.name)]
        for spec in OPTIONS
        if env_name(spec.name) in environ
    }
    return Layer(values, "environment", Path.cwd(), "env")


def _unknown_key(layer: Layer, key: str) -> ConfigError:
    names = [spec.name for spec in OPTIONS]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"did you mean '{layer.key_name(close[0])}'?" if close else None
    valid = ", ".join(names)
    return ConfigError(
        f"{layer.where}: unknown key '{layer.key_name(key)}'",
        tip=hint or f"valid keys: {valid}",
    )


def _type_error(layer: Layer, spec: OptionSpec, expected: str, got: object) -> ConfigError:
    return ConfigError(
        f"{layer.where}: '{layer.key_name(spec.name)}' must be {expected}, "
        f"got {type(got).__name__} {got!r}",
        tip=f"{spec.name}: {spec.help}",
    )


def _as_list(layer: Layer, spec: OptionSpec, raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        if spec.kind == "words":
            return tuple(w for w in re.split(r"[\s,]+", raw) if w)
        if spec.kind == "args":
            try:
                return tuple(shlex.split(raw))
            except ValueError as e:
                raise ConfigError(f"{layer.where}: '{layer.key_name(spec.name)}': {e}") from None
        return tuple(line.strip() for line in raw.splitlines() if line.strip())
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        return tuple(raw)
    raise _type_error(layer, spec, "a list of strings", raw)


def _as_table(layer: Layer, spec: OptionSpec, raw: object) -> tuple[tuple[str, str], ...]:
    """NAME/value pairs from a TOML table or a ``A=1 B='x y'`` string.

    For ``environment`` the values are shell words (see ``Options.environment``): a table's
    values become double-quoted words, a string keeps the words as written.
    """
    key = f"{layer.where}: '{layer.key_name(spec.name)}'"
    shell = spec.name == "environment"
    items: list[tuple[str, str]] = []
    if isinstance(raw, dict):
        for k, v in raw.items():
            if not isinstance(v, (str, int, float)):
                raise _type_error(layer, spec, "a table of strings", raw)
            text = ("1" if v else "0") if isinstance(v, bool) else str(v)
            items.append((str(k), dquote(text) if shell else text))
    elif isinstance(raw, str):
        try:
            items = split_assignments(raw) if shell else [_pair(w) for w in shlex.split(raw)]
        except ValueError as e:
            raise ConfigError(
                f"{key}: {e}", tip="write it as NAME=VALUE pairs separated by spaces"
            ) from None
    else:
        raise _type_error(layer, spec, "a table of strings", raw)
    for k, _ in items:
        if shell and not _ENV_NAME.match(k):
            raise ConfigError(f"{key}: '{k}' is not a valid variable name")
    return tuple(items)


def _pair(word: str) -> tuple[str, str]:
    k, sep, v = word.partition("=")
    if not sep:
        raise ValueError(f"'{word}' is not NAME=VALUE")
    return k, v


def _convert(layer: Layer, spec: OptionSpec, raw: object) -> object:
    kind = spec.kind
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in {
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        }:
            return raw.lower() in {"1", "true", "yes", "on"}
        raise _type_error(layer, spec, "true or false", raw)
    if kind == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and raw.strip().isdigit():
            value = int(raw)
        else:
            raise _type_error(layer, spec, "a whole number", raw)
        if value < 0:
            raise _type_error(layer, spec, "a whole number, 0 or more", raw)
        return value
    if kind in ("words", "lines", "args"):
        return _as_list(layer, spec, raw)
    if kind == "table":
        return _as_table(layer, spec, raw)
    if kind == "text":
        if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
            return "\n".join(raw)
        if isinstance(raw, str):
            return raw
        raise _type_error(layer, spec, "a string or a list of lines", raw)
    if not isinstance(raw, str):
        raise _type_error(layer, spec, "a string", raw)
    if kind == "path":
        return (layer.base_dir / raw).absolute() if raw else None
    if spec.choices and raw not in spec.choices:
        raise ConfigError(
            f"{layer.where}: '{layer.key_name(spec.name)}' is '{raw}'",
            tip=f"choose one of: {', '.join(spec.choices)}",
        )
    return raw or (None if spec.default is None else raw)


def check_cache_dir(path: Path, project_dir: Path | None, where: str | None) -> None:
    """Refuse a cache folder manywheel must never own, as it empties parts of it: ``/``, the
    home folder or a folder above it, the project folder or a folder above it. ``where``: the
    source that set it."""
    target = path.resolve()
    try:
        home: Path | None = Path.home().resolve()
    except (RuntimeError, KeyError):  # no HOME and no password entry: nothing to compare
        home = None
    reason = None
    if target == Path(target.anchor):
        reason = "the root folder"
    elif home is not None and target == home:
        reason = "your home folder"
    elif home is not None and target in home.parents:
        reason = f"a folder above your home folder {home}"
    elif project_dir is not None and target == project_dir.resolve():
        reason = "the project folder"
    elif project_dir is not None and target in project_dir.resolve().parents:
        reason = f"a folder above the project folder {project_dir}"
    if reason is not None:
        names = {"environment": env_name("cache-dir"), "command line": flag_name("cache-dir")}
        key = names.get(where or "", "'cache-dir'")
        raise ConfigError(
            f"{where + ': ' if where else ''}{key} is {target}, {reason}; manywheel owns its cache "
            "folder and empties parts of it, so it must be a folder of its own",
            tip='point cache-dir at a new folder (e.g. cache-dir = "build-cache" in the '
            "project) or remove it to use the user cache folder",
        )


def _check(options: Options, origin: Mapping[str, str]) -> None:
    def where(name: str) -> str:
        return origin.get(name, "defaults")

    if options.cache_dir is not None:
        check_cache_dir(options.cache_dir, options.project_dir, where("cache-dir"))
    if not options.image or re.search(r"\s", options.image):
        raise ConfigError(
            f"{where('image')}: 'image' is {options.image!r}, not an image reference",
            tip="write a reference like quay.io/pypa/manylinux_2_34_x86_64 (no spaces)",
        )
    options.image_specs(where="defaults", origin=origin)  # the matrix makes sense
    for selector in options.python:
        if not _PY_SELECTOR.match(selector):
            raise ConfigError(
                f"{where('python')}: 'python' has unknown Python version '{selector}'",
                tip="write versions like 3.13 or 3.13t, or identifiers like cp313-manylinux_x86_64",
            )
    for name in ("build_requirements", "ca_bundle"):
        path = getattr(options, name)
        if path is not None and not path.is_file():
            key = name.replace("_", "-")
            raise ConfigError(
                f"{where(key)}: '{key}' names {path}, which does not exist",
                tip=f"create the file or fix the path (relative paths start at {options.project_dir})",
            )
    if options.build_requirements is not None:
        requirement_files(options.build_requirements)  # what it includes (-r, -c) exists too
    if options.repos_dir is not None and not options.repos_dir.is_dir():
        raise ConfigError(
            f"{where('repos-dir')}: 'repos-dir' names {options.repos_dir}, which is not a folder",
            tip="point it at a folder of .repo/.list/.sources files",
        )
    if options.distro_mirror is not None and not re.match(
        r"^(https?|ftp|file)://[^\s|#'\"\\]+$", options.distro_mirror
    ):
        raise ConfigError(
            f"{where('distro-mirror')}: 'distro-mirror' must be a URL like https://mirror.example.com",
        )
    for name in options.secret_environment:
        if not _ENV_NAME.match(name):
            raise ConfigError(f"{where('secret-environment')}: '{name}' is not a variable name")
    for glob in options.exclude:
        if (why := bad_glob(glob)) is not None:
            raise ConfigError(
                f"{where('exclude')}: 'exclude' pattern '{glob}' {why}",
                tip="write globs relative to the project root, like data/, *.h5 or big/**",
            )
    for key in _own_labels(options.engine_args):
        raise ConfigError(
            f"{where('engine-args')}: 'engine-args' sets the label '{key}'",
            tip="labels starting with 'manywheel.' are manywheel's own (it finds and removes "
            "its containers by them); choose another label name",
        )


def _own_labels(args: tuple[str, ...]) -> list[str]:
    """Keys starting with ``manywheel.`` that ``--label``/``-l`` arguments set. (A --label-file
    cannot override them: both engines let every --label win over it, whatever the order.)"""
    values: list[str] = []
    for i, arg in enumerate(args):
        if arg in ("--label", "-l") and i + 1 < len(args):
            values.append(args[i + 1])
        elif arg.startswith("--label="):
            values.append(arg[len("--label=") :])
        elif arg.startswith("-l") and not arg.startswith("--"):
            values.append(arg[2:].removeprefix("="))
    keys = [value.partition("=")[0].strip() for value in values]
    return [key for key in keys if key.lower().startswith("manywheel.")]


def _project_engine_args(layer: Layer, args: object, project: Path) -> tuple[str, ...]:
    """The warning for engine-args from the project's own files (not the user's command
    line, environment or a config file of theirs outside the project): they could mount any
    host folder into the builds, so the user must see them."""
    if layer.style != "file" or not layer.base_dir.is_relative_to(project):
        return ()
    if not isinstance(args, tuple) or not args:
        return ()
    return (
        f"{layer.where}: engine-args from the project's files: {shlex.join(args)} (they apply "
        f"to every build container; set engine-args from the command line or "
        f"{env_name('engine-args')} if that is not intended)",
    )


def load_options(
    project_dir: Path | str = ".",
    *,
    cli: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Options:
    """Merge defaults < pyproject.toml < manywheel.toml < environment < CLI into ``Options``.

    ``cli`` maps option names (kebab-case) to raw values as the command line gave them.
    """
    project = Path(project_dir).absolute()
    try:
        exists = project.is_dir() and os.access(project, os.R_OK | os.X_OK)
    except OSError:
        exists = False
    if not exists:
        raise ConfigError(
            f"project folder {project} does not exist or cannot be read",
            tip="pass the folder that holds pyproject.toml (or setup.py)",
        )
    env = os.environ if environ is None else environ
    layers = _file_layers(project, config_file)
    layers.append(_env_layer(env))
    if cli:
        layers.append(Layer(dict(cli), "command line", Path.cwd(), "cli"))

    values: dict[str, object] = {}  # what the layers set; Options has the defaults
    origin: dict[str, str] = {}
    engine_args_layer: Layer | None = None
    for layer in layers:
        for key, raw in layer.values.items():
            spec = spec_for(key)
            if spec is None:
                raise _unknown_key(layer, key)
            values[spec.field] = _convert(layer, spec, raw)
            origin[spec.name] = f"{layer.where}"
            if spec.name == "engine-args":
                engine_args_layer = layer
    files = tuple(Path(layer.where.split(" [")[0]) for layer in layers if layer.style == "file")
    notes = tuple(note for layer in layers for note in layer.notes)
    values["default_images"] = tuple(item for layer in layers for item in layer.default_images)
    if engine_args_layer is not None:
        notes += _project_engine_args(engine_args_layer, values["engine_args"], project)
    options = Options(project_dir=project, config_files=files, notes=notes, **values)  # type: ignore[arg-type]
    _check(options, origin)
    return options
