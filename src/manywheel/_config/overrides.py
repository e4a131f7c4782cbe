"""How the layers of a configuration combine: in order, each value replacing the one below
it, or (``inherit``) appended or prepended to it; overrides are layers that apply only to the
targets their ``select`` matches, as cibuildwheel's ``[[tool.cibuildwheel.overrides]]`` do.

Values here are already converted (``Options`` field values); a ``Stage`` is one layer of
them. Options hold their stages, and ``Options.for_target`` folds them for one identifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .registry import OptionSpec
from .selectors import selector_matches

__all__ = ["INHERIT_RULES", "Stage", "fold", "merge", "mergeable"]

INHERIT_RULES = ("none", "append", "prepend")


@dataclass(frozen=True)
class Stage:
    """One layer of converted values: fields (``spec.field``) to values, with how each
    inherits the value below it; ``select``: the identifier globs of an override, else None."""

    values: Mapping[str, object]
    where: str
    inherit: Mapping[str, str] = field(default_factory=dict)
    select: tuple[str, ...] | None = None

    def applies_to(self, identifier: str | None) -> bool:
        if self.select is None:
            return True
        return identifier is not None and selector_matches(self.select, identifier)


def mergeable(spec: OptionSpec) -> bool:
    """Whether a value of this option can be appended to another (``inherit``)."""
    return spec.kind in ("text", "words", "lines", "args", "table", "settings")


def _text(first: str, second: str) -> str:
    """Two shell scripts run one after the other, the second only if the first succeeded (as
    cibuildwheel joins commands with ``&&``); braces keep both in the same shell, so a ``cd``
    in the first holds in the second."""
    if not first.strip():
        return second
    if not second.strip():
        return first
    return f"{{ {first}\n}} && {{ {second}\n}}"


def _pairs(
    first: tuple[tuple[str, str], ...], second: tuple[tuple[str, str], ...], *, keep_all: bool
) -> tuple[tuple[str, str], ...]:
    """Name/value pairs of both: all of them in order (environment: each is evaluated in
    turn), or the first's without the names the second sets (a table)."""
    if keep_all:
        return first + second
    names = {k for k, _ in second}
    return tuple(p for p in first if p[0] not in names) + second


def merge(spec: OptionSpec, below: object, value: object, rule: str) -> object:
    """``value`` over ``below`` by ``rule`` (none, append or prepend; an additive option
    appends whatever the rule)."""
    if spec.additive:
        return tuple(dict.fromkeys((*(below or ()), *value)))  # type: ignore[misc]
    if rule == "none" or below is None:
        return value
    first, second = (below, value) if rule == "append" else (value, below)
    if spec.kind == "text":
        return _text(str(first), str(second))
    if spec.kind in ("table", "settings"):
        keep_all = spec.kind == "table" and spec.name in ("environment", "test-environment")
        return _pairs(first, second, keep_all=keep_all)  # type: ignore[arg-type]
    return (*first, *second)  # type: ignore[misc]


def fold(
    specs: Mapping[str, OptionSpec],
    stages: tuple[Stage, ...],
    identifier: str | None,
    fields: set[str],
    start: Mapping[str, object],
) -> dict[str, object]:
    """The value of each of ``fields`` after every stage that applies to ``identifier``
    (None: the base stages only), starting from ``start`` (the defaults)."""
    out: dict[str, object] = {}
    for name in fields:
        value = start.get(name)
        for stage in stages:
            if name in stage.values and stage.applies_to(identifier):
                value = merge(
                    specs[name], value, stage.values[name], stage.inherit.get(name, "none")
                )
        out[name] = value
    return out
