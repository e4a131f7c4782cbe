"""The caches manywheel keeps: prepared-environment images and the host download cache."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from ._engine import Engine

__all__ = ["PreparedImage", "clean_downloads", "clean_prepared", "download_cache", "list_prepared"]

PREPARED_LABEL = "manywheel.prepared=1"


@dataclass(frozen=True)
class PreparedImage:
    tag: str
    image_id: str
    created: str
    size: str


def list_prepared(engine: Engine) -> list[PreparedImage]:
    rows = engine.images(PREPARED_LABEL)
    return [
        PreparedImage(
            tag=f"{row.get('Repository', '?')}:{row.get('Tag', '?')}",
            image_id=row.get("ID", "?"),
            created=row.get("CreatedSince", "?"),
            size=row.get("Size", "?"),
        )
        for row in rows
    ]


def clean_prepared(engine: Engine) -> list[str]:
    removed = []
    for image in list_prepared(engine):
        engine.remove_image(image.tag)
        removed.append(image.tag)
    return removed


def download_cache(cache_dir: Path | None = None) -> Path:
    return cache_dir or platformdirs.user_cache_path("manywheel")


def clean_downloads(cache_dir: Path | None = None) -> Path:
    root = download_cache(cache_dir)
    shutil.rmtree(root, ignore_errors=True)
    return root
