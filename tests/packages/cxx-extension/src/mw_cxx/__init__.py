"""mw_cxx: a C++ extension whose results depend on the C++ standard library working."""

from ._core import median, word_counts

__all__ = ["check", "median", "word_counts"]


def check() -> str:
    """One line of results (the same on every architecture), a C++ exception included."""
    try:
        median([])
    except ValueError as e:
        error = str(e)
    else:
        error = "no error"
    counts = sorted(word_counts("b a c a b a").items())
    return f"median={median([3, 1, 2, 10])} counts={counts} error={error!r}"
