from ._core import answer

__all__ = ["answer"]
