from ._core import greeting

__all__ = ["greeting"]
