"""Builders: the engines a run's targets may build on (``builders``), how their clients reach
them (``endpoint``) and what each is (``discovery``)."""

from __future__ import annotations

from .discovery import BuilderFacts, Runner, Way, discover_builder, run_client
from .endpoint import LOCAL, Builder, parse_builders, tls_problem
from .engine import builder_engine

__all__ = [
    "LOCAL",
    "Builder",
    "BuilderFacts",
    "Runner",
    "Way",
    "builder_engine",
    "discover_builder",
    "parse_builders",
    "run_client",
    "tls_problem",
]
