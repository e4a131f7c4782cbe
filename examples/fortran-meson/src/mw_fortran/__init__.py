"""mw-fortran: Fortran kernels wrapped by numpy.f2py, built with meson-python."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mw_fortran._fcore import fcore as _kernels  # the Fortran module `fcore`

__all__ = ["describe", "dot", "sum_squares"]
__version__ = "1.0.0"


def _as_vector(values: Iterable[float]) -> np.ndarray:
    if not isinstance(values, np.ndarray) and not hasattr(values, "__len__"):
        values = list(values)  # a generator or other one-shot iterable
    return np.ascontiguousarray(values, dtype=np.float64).ravel()


def sum_squares(values: Iterable[float]) -> float:
    """The sum of the squares of ``values``, computed in Fortran."""
    return float(_kernels.fsum_squares(_as_vector(values)))


def dot(a: Iterable[float], b: Iterable[float]) -> float:
    """The dot product of ``a`` and ``b`` (of equal length), computed in Fortran."""
    x, y = _as_vector(a), _as_vector(b)
    if x.shape != y.shape:
        raise ValueError(f"dot: lengths differ ({x.size} and {y.size})")
    return float(_kernels.fdot(x, y))


def describe(values: Iterable[float]) -> str:
    """A one-line summary of ``values``, formatted by Fortran I/O."""
    text = _kernels.fdescribe(_as_vector(values))
    if isinstance(text, np.ndarray):  # f2py may hand back a 0-d bytes array
        text = text.item()
    return text.decode("ascii").strip()
