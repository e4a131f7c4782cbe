"""mw-cext: a tiny C extension built by manywheel's examples and tests."""

from mw_cext._core import add, compiled_with

__all__ = ["add", "compiled_with"]
__version__ = "1.0.0"
