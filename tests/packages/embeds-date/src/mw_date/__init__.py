"""When this extension was compiled, as the compiler saw it (__DATE__ and __TIME__)."""

from ._core import built

__all__ = ["built"]
