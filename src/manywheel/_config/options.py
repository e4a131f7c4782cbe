"""One frozen options model, merged from pyproject.toml/manywheel.toml, environment and CLI."""

from __future__ import annotations

import difflib
import os
import re
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .._arch import ARCHS, LIBCS
from .._builders import parse_builders
from .._errors import ConfigError
from .._scripts.shell import dquote, split_assignments, word_value
from .cibuildwheel import cibuildwheel_layers
from .cibw_env import cibw_env_layers, cibw_variables
from .depgroups import group_requirements
from .exclude import Exclusions, bad_glob, vcs_versioning
from .layer import Layer
from .matrix import ImageSpec, image_specs
from .overrides import INHERIT_RULES, Stage, fold, mergeable
from .registry import OPTIONS, OptionSpec, env_name, flag_name, image_key, spec_for
from .requirements import requirement_files
from .sdist import is_sdist, open_sdist
from .selectors import ENABLE_GROUPS, RETIRED_GROUPS, parse_enable
from .toml import read_toml

__all__ = ["Layer", "Options", "check_cache_dir", "load_options", "read_toml", "write_atomically"]

_PY_SELECTOR = re.compile(r"^(\d+\.\d+t?|(cp|pp|gp)[A-Za-z0-9_*?\[\]!{},.-]*)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|CREDENTIAL", re.IGNORECASE)


_SPECS = {spec.field: spec for spec in OPTIONS}


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
    builders: tuple[str, ...] = _default_of("builders")  # the words; see _builders
    pull: str = _default_of("pull")
    python: tuple[str, ...] = _default_of("python")
    build: tuple[str, ...] = _default_of("build")
    skip: tuple[str, ...] = _default_of("skip")
    enable: tuple[str, ...] = _default_of("enable")
    requires_python: str | None = _default_of("requires-python")
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
    environment_pass: tuple[str, ...] = _default_of("environment-pass")
    build_command: str | None = _default_of("build-command")
    build_frontend: str = _default_of("build-frontend")  # build | build[uv] | pip | uv
    build_frontend_args: tuple[str, ...] = _default_of("build-frontend-args")
    config_settings: tuple[tuple[str, str], ...] = _default_of("config-settings")
    build_verbosity: int = _default_of("build-verbosity")
    repair_command: str = _default_of("repair-command")
    repair_plat: str = _default_of("repair-plat")
    before_build: str = _default_of("before-build")
    test_requires: tuple[str, ...] = _default_of("test-requires")
    test_command: str = _default_of("test-command")
    test_skip: tuple[str, ...] = _default_of("test-skip")
    test_extras: tuple[str, ...] = _default_of("test-extras")
    test_groups: tuple[str, ...] = _default_of("test-groups")
    test_sources: tuple[str, ...] = _default_of("test-sources")
    before_test: str = _default_of("before-test")
    test_environment: tuple[tuple[str, str], ...] = _default_of("test-environment")
    audit_command: tuple[str, ...] = _default_of("audit-command")
    audit_requires: tuple[str, ...] = _default_of("audit-requires")
    exclude: tuple[str, ...] = _default_of("exclude")
    copy_vcs: str = _default_of("copy-vcs")  # auto | always | never
    output_dir: Path = _default_of("output-dir")
    labels: tuple[tuple[str, str], ...] = _default_of("labels")
    jobs: int = _default_of("jobs")
    force: bool = _default_of("force")
    allow_empty: bool = _default_of("allow-empty")
    build_from_sdist: bool = _default_of("build-from-sdist")
    reproducible: bool = _default_of("reproducible")
    check_reproducible: bool = _default_of("check-reproducible")
    cache_prepared: bool = _default_of("cache-prepared")
    cache_venv: bool = _default_of("cache-venv")
    cache_dir: Path | None = _default_of("cache-dir")
    cache_keep_days: int = _default_of("cache-keep-days")
    shared_cache: bool = _default_of("shared-cache")
    ccache: bool = _default_of("ccache")
    cross_compilers: str = _default_of("cross-compilers")  # auto | off
    log_dir: Path | None = _default_of("log-dir")
    notes: tuple[str, ...] = ()  # warnings about the configuration (e.g. ignored cibuildwheel keys)
    # Per-platform image keys' defaults from the configuration's source ((key, image) pairs:
    # cibuildwheel's when read from [tool.cibuildwheel]); a key set anywhere, or `image` for
    # manylinux on this machine's architecture, wins over them.
    default_images: tuple[tuple[str, str], ...] = ()
    # Every layer of the configuration, weakest first, when some are overrides (else empty):
    # for_target folds them for one target.
    stages: tuple[Stage, ...] = ()
    source_archive: Path | None = None  # the sdist the project was unpacked from, if any

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

    def for_target(self, identifier: str) -> Options:
        """The options of one target: these, with the overrides whose ``select`` matches it
        applied in their place among the layers (an override of pyproject.toml is weaker than
        manywheel.toml, the environment and the command line, as in cibuildwheel)."""
        matching = [s for s in self.stages if s.select is not None and s.applies_to(identifier)]
        if not matching:
            return self
        fields = {name for stage in matching for name in stage.values}
        defaults = {name: _default_of(_SPECS[name].name) for name in fields}
        values = fold(_SPECS, self.stages, identifier, fields, defaults)
        return replace(self, **values)  # type: ignore[arg-type]

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
        named = [
            k for k, _ in (*self.environment, *self.test_environment) if _SECRET_NAME.search(k)
        ]
        return tuple(dict.fromkeys([*self.secret_environment, *named]))

    def secret_values(self) -> tuple[str, ...]:
        """Values that must never be shown: secret-environment and *TOKEN*-like variables."""
        values = [
            word_value(v)
            for k, v in (*self.environment, *self.test_environment)
            if _SECRET_NAME.search(k)
        ]
        values = [v for v in values if v]
        values += [os.environ[k] for k in self.secret_environment if os.environ.get(k)]
        return tuple(values)

    def passed_environment(self) -> dict[str, str]:
        """Host variables passed into the build and test containers by name: the secret ones,
        environment-pass, and SOURCE_DATE_EPOCH when it is set (as cibuildwheel passes it)."""
        names = (*self.secret_environment, *self.environment_pass, "SOURCE_DATE_EPOCH")
        return {k: os.environ[k] for k in dict.fromkeys(names) if k in os.environ}

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

    def effective_jobs(self, targets: int, cores: int | None = None) -> int:
        """Targets to run at once (on a machine of ``cores``, default this one's). Auto runs
        them all together (up to 2 per core): with fewer targets left than cores, a
        one-per-core limit would leave cores idle while the last target compiles alone;
        sharing the cores makes the run end at total work / cores."""
        wanted = self.jobs if self.jobs > 0 else 2 * (cores or os.cpu_count() or 1)
        return max(1, min(wanted, targets))


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one rename, keeping its permissions; never a half-written file."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _manywheel_layers(table: object, where: str, base: Path) -> list[Layer]:
    """A [tool.manywheel] (or manywheel.toml) table, then each of its overrides."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    values = {k: v for k, v in table.items() if k != "overrides"}
    layers = [Layer(values, where, base, "file")]
    overrides = table.get("overrides", [])
    if not isinstance(overrides, list):
        raise ConfigError(f"{where}: 'overrides' must be a list of tables ([[...overrides]])")
    for i, item in enumerate(overrides):
        name = f"{where} overrides #{i + 1}"
        select = item.get("select") if isinstance(item, dict) else None
        if isinstance(select, str):
            select = [select]
        if (
            not isinstance(select, list)
            or not select
            or not all(isinstance(x, str) for x in select)
        ):
            raise ConfigError(
                f"{name}: 'select' must be an identifier glob or a list of them",
                tip='e.g. select = "cp313-*" or select = ["*-musllinux_*", "cp314-*"]',
            )
        assert isinstance(item, dict)
        raw_inherit = item.get("inherit", {})
        if not isinstance(raw_inherit, dict):
            raise ConfigError(f"{name}: 'inherit' must be a table of option = rule")
        keys = {k: v for k, v in item.items() if k not in ("select", "inherit")}
        layers.append(Layer(keys, name, base, "file", inherit=raw_inherit, select=tuple(select)))
    return layers


def _config_layers(
    project_dir: Path, config_file: Path | None, environ: Mapping[str, str]
) -> list[Layer]:
    """The files' layers and, when the configuration comes from cibuildwheel (no
    [tool.manywheel], and a [tool.cibuildwheel] or CIBW_* variables), cibuildwheel's defaults
    first and its variables last."""
    layers: list[Layer] = []
    pyproject = project_dir / "pyproject.toml"
    tool = read_toml(pyproject).get("tool", {}) if pyproject.is_file() else {}
    cibw_vars = cibw_variables(environ)
    from_cibw = False
    pyproject_cibw = len(layers)  # where pyproject.toml's [tool.cibuildwheel] layers start
    if tool.get("manywheel") is not None:
        layers += _manywheel_layers(tool["manywheel"], f"{pyproject} [tool.manywheel]", project_dir)
        if cibw_vars:
            layers[0] = replace(
                layers[0],
                notes=(
                    f"ignored {', '.join(cibw_vars)}: {pyproject} has [tool.manywheel], which "
                    "MANYWHEEL_* variables (not CIBW_* ones) configure",
                ),
            )
    elif isinstance(tool.get("cibuildwheel"), dict) or cibw_vars:
        from_cibw = True
        table = tool.get("cibuildwheel") if isinstance(tool.get("cibuildwheel"), dict) else None
        try:
            layers += cibuildwheel_layers(table, f"{pyproject} [tool.cibuildwheel]", project_dir)
        except ValueError as e:
            raise ConfigError(
                str(e), tip="see cibuildwheel's documentation of the option"
            ) from None
    extra = config_file or (project_dir / "manywheel.toml")
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist")
    if extra.is_file():
        data = read_toml(extra)
        tools = data.get("tool", {}) if "tool" in data else {"manywheel": data}
        if "manywheel" not in tools and isinstance(tools.get("cibuildwheel"), dict):
            # A cibuildwheel --config-file: its tables over pyproject.toml's.
            try:
                found = cibuildwheel_layers(
                    tools["cibuildwheel"], f"{extra} [tool.cibuildwheel]", extra.parent
                )
            except ValueError as e:
                raise ConfigError(str(e)) from None
            if from_cibw and config_file is not None:
                # cibuildwheel reads its --config-file instead of pyproject.toml, not over it
                del layers[pyproject_cibw:]
            elif from_cibw:
                found = found[1:]  # cibuildwheel's defaults are there already
            layers += found
            from_cibw = from_cibw or tool.get("manywheel") is None
        else:
            layers += _manywheel_layers(tools.get("manywheel", {}), str(extra), extra.parent)
    if from_cibw:
        try:
            layers += cibw_env_layers(environ, Path.cwd())
        except ValueError as e:
            raise ConfigError(
                str(e), tip="see cibuildwheel's documentation of the option"
            ) from None
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
        if spec.kind == "words":  # by spaces and commas, but not a comma in braces (cp{312,313})
            return tuple(w for w in re.split(r"\s+|,(?![^{]*})", raw) if w)
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
    shell = spec.name in ("environment", "test-environment")
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


def _as_settings(layer: Layer, spec: OptionSpec, raw: object) -> tuple[tuple[str, str], ...]:
    """KEY=VALUE pairs (a key may repeat): a table (a list value repeats its key), a list of
    KEY=VALUE words, or a string of them (shell words)."""
    words: list[str] = []
    if isinstance(raw, dict):
        for k, v in raw.items():
            items = v if isinstance(v, list) else [v]
            if not all(isinstance(x, (str, int, float, bool)) for x in items):
                raise _type_error(layer, spec, "a table of strings (or lists of them)", raw)
            words += [f"{k}={x}" for x in items]
    elif isinstance(raw, list) and all(isinstance(w, str) for w in raw):
        words = list(raw)
    elif isinstance(raw, str):
        try:
            words = shlex.split(raw)
        except ValueError as e:
            raise ConfigError(f"{layer.where}: '{layer.key_name(spec.name)}': {e}") from None
    else:
        raise _type_error(layer, spec, "a table, or KEY=VALUE words", raw)
    try:
        return tuple(_pair(w) for w in words)
    except ValueError as e:
        raise ConfigError(
            f"{layer.where}: '{layer.key_name(spec.name)}': {e}",
            tip="write settings as KEY=VALUE (a table in TOML)",
        ) from None


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
        elif isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
            value = int(raw)
        else:
            raise _type_error(layer, spec, "a whole number", raw)
        if value < spec.minimum:
            raise _type_error(layer, spec, f"a whole number, {spec.minimum} or more", raw)
        return value
    if kind == "settings":
        return _as_settings(layer, spec, raw)
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
    try:
        parse_enable(options.enable)
    except ValueError as e:
        raise ConfigError(
            f"{where('enable')}: 'enable' has unknown group '{e}'",
            tip="use " + ", ".join(ENABLE_GROUPS) + " or all",
        ) from None
    if options.requires_python is not None:
        try:
            SpecifierSet(options.requires_python)
        except InvalidSpecifier:
            raise ConfigError(
                f"{where('requires-python')}: 'requires-python' is {options.requires_python!r}, "
                "not a version specifier",
                tip="write it like '>=3.12'",
            ) from None
    for rel in options.test_sources:
        if not (options.project_dir / rel).exists():
            raise ConfigError(
                f"{where('test-sources')}: 'test-sources' names {rel}, which is not in the "
                f"project ({options.project_dir})",
                tip="list files and folders relative to the project root",
            )
    if options.test_groups:
        group_requirements(options.project_dir, options.test_groups)
    for glob in options.exclude:
        if (why := bad_glob(glob)) is not None:
            raise ConfigError(
                f"{where('exclude')}: 'exclude' pattern '{glob}' {why}",
                tip="write globs relative to the project root, like data/, *.h5 or big/**",
            )
    try:
        parse_builders(options.builders, engine=options.engine)
    except ConfigError as e:
        raise ConfigError(f"{where('builders')}: {e.message}", tip=e.tip) from None
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


def _from_project(layer: Layer, project: Path) -> bool:
    """True for a layer of the project's own files (pyproject.toml, its manywheel.toml, a
    --config-file inside the project): not the user's command line, environment or a
    config file of theirs outside the project. Whoever builds a project need not trust it."""
    return layer.style == "file" and layer.base_dir.resolve().is_relative_to(project.resolve())


def _check_settable(layer: Layer, spec: OptionSpec, project: Path) -> None:
    """Refuse an option where it may not be set: one only the user may set (``user_only``)
    in the project's files, one that is the same for every target in an override."""
    if spec.user_only and _from_project(layer, project):
        raise ConfigError(
            f"{layer.where}: '{layer.key_name(spec.name)}' cannot be set in the project's files: "
            f"{spec.user_only}, which is yours to decide",
            tip=f"remove it there, and set it with {flag_name(spec.name)}, "
            f"{env_name(spec.name)} or in a config file of yours outside the project "
            "(--config-file)",
        )
    if layer.select is not None and not spec.per_target:
        raise ConfigError(
            f"{layer.where}: '{spec.name}' is the same for every target of a run, so an "
            "override cannot set it",
            tip="set it in the table itself, or select targets with build and skip",
        )


def _project_engine_args(layer: Layer, args: object, project: Path) -> tuple[str, ...]:
    """The warning for engine-args from the project's own files: they could mount any host
    folder into the builds, so the user must see them."""
    if not _from_project(layer, project):
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
    archive = project if is_sdist(project) else None
    if archive is not None:  # an sdist: its folder is the project, output-dir is from here
        project = open_sdist(archive)
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
    layers = _config_layers(project, config_file, env)
    layers.append(_env_layer(env))
    if cli:
        layers.append(Layer(dict(cli), "command line", Path.cwd(), "cli"))

    stages: list[Stage] = []
    origin: dict[str, str] = {}  # where each option (and each word of `enable`) was set
    notes: list[str] = []
    engine_args: list[tuple[int, Layer, object]] = []  # (position, layer, value) of each
    for layer in layers:
        notes += layer.notes
        converted: dict[str, object] = {}
        for key, raw in layer.values.items():
            spec = spec_for(key)
            if spec is None:
                raise _unknown_key(layer, key)
            _check_settable(layer, spec, project)
            value = _convert(layer, spec, raw)
            converted[spec.field] = value
            if layer.select is None:
                origin[spec.name] = layer.where
                for word in value if spec.additive and isinstance(value, tuple) else ():
                    origin.setdefault(f"{spec.name}:{word}", layer.where)
            if spec.name == "engine-args":
                engine_args = [*engine_args, (len(stages), layer, value)]
        stages.append(Stage(converted, layer.where, _inherit_of(layer), layer.select))
    # The engine-args in effect (the last of the base layers, and overrides after it).
    last = max((i for i, layer, _ in engine_args if layer.select is None), default=-1)
    for i, layer, value in engine_args:
        if i == last or (i > last and layer.select is not None):
            notes += _project_engine_args(layer, value, project)
    fields = {name for stage in stages if stage.select is None for name in stage.values}
    defaults = {name: _default_of(_SPECS[name].name) for name in fields}
    values = fold(_SPECS, tuple(stages), None, fields, defaults)
    values["default_images"] = tuple(item for layer in layers for item in layer.default_images)
    if archive is not None and "output_dir" not in values:
        values["output_dir"] = Path.cwd() / str(spec_for("output-dir").default)  # type: ignore[union-attr]
    overrides = [stage for stage in stages if stage.select is not None]
    options = Options(
        project_dir=project,
        config_files=_files(layers),
        notes=tuple(dict.fromkeys(notes)),
        stages=tuple(stages) if overrides else (),
        source_archive=archive,
        **values,  # type: ignore[arg-type]
    )
    _check(options, origin)
    for stage in overrides:  # its values make sense too (the files they name exist, ...)
        where = {spec.name: stage.where for spec in OPTIONS}
        _check(replace(options, **stage.values), where)  # type: ignore[arg-type]
    return replace(options, notes=options.notes + _retired_notes(options, origin))


def _files(layers: list[Layer]) -> tuple[Path, ...]:
    """The configuration files the layers were read from."""
    paths = [Path(re.split(r" \[| overrides #", layer.where)[0]) for layer in layers]
    return tuple(dict.fromkeys(p for p in paths if p.is_absolute() and p.is_file()))


def _inherit_of(layer: Layer) -> dict[str, str]:
    """A layer's inherit rules by field, checked."""
    rules: dict[str, str] = {}
    for name, rule in layer.inherit.items():
        spec = spec_for(name)
        if spec is None:
            raise _unknown_key(layer, name)
        if rule not in INHERIT_RULES:
            raise ConfigError(
                f"{layer.where}: 'inherit' of '{name}' is {rule!r}",
                tip="choose one of: " + ", ".join(INHERIT_RULES),
            )
        if rule != "none" and not mergeable(spec):
            raise ConfigError(
                f"{layer.where}: '{name}' cannot inherit (it holds one value)",
                tip="only lists, tables and scripts can be appended or prepended",
            )
        rules[spec.field] = rule
    return rules


def _retired_notes(options: Options, origin: Mapping[str, str]) -> tuple[str, ...]:
    """A warning for each group cibuildwheel retired that ``enable`` names (cibuildwheel 4
    stops on them; many released sdists still have them)."""
    _, retired = parse_enable(options.enable)
    return tuple(
        f"{origin.get('enable:' + group, 'configuration')}: enable group '{group}' is retired and "
        f"ignored: {RETIRED_GROUPS[group]}"
        for group in retired
    )
