"""What one interpreter is: run by discover.sh as ``python -c <this file> KIND PATH``.

Prints ``KIND PATH IMPLEMENTATION X.Y.Z FREE_THREADED RELEASELEVEL IMPL_X.Y`` (_plan.parse_facts
reads it): the release level (alpha, beta, candidate, final) tells a pre-release, the
implementation's own version names a GraalPy. KIND ``interpreter`` (one found on PATH) prints
nothing unless it can make a venv with pip. Runs on whatever Python 3 an image has: keep to what
Python 3.3 offers.
"""

import sys
import sysconfig

kind, path = sys.argv[1], sys.argv[2]
if kind == "interpreter":
    import ensurepip  # noqa: F401
    import venv  # noqa: F401
ft = int(bool(sysconfig.get_config_var("Py_GIL_DISABLED")))
impl = sys.implementation
print(
    kind,
    path,
    impl.name,
    "%d.%d.%d" % sys.version_info[:3],  # noqa: UP031
    ft,
    sys.version_info.releaselevel,
    "%d.%d" % tuple(impl.version[:2]),  # noqa: UP031
)
