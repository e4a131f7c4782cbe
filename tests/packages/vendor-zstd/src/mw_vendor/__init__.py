from ._zstd import greeting, zstd_version

__all__ = ["greeting", "zstd_version"]
