"""Can this (native) Python run the image's auditwheel? Run by native-auditwheel.sh with
PYTHONPATH set to the folders the image's interpreter imports auditwheel from. Every
distribution there that states a Requires-Python must allow this Python's version (read with
the packaging those folders hold, which auditwheel needs anyway), and auditwheel's modules must
import: a compiled module built for the target's machine among them would not. Prints
auditwheel's version; on failure, the reason, and exits 1."""

import importlib
import importlib.metadata
import platform
import sys

try:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
except ImportError as e:
    sys.exit(f"packaging does not import ({e})")

version = platform.python_version()
for dist in importlib.metadata.distributions(path=sys.path[1:]):
    name, requires = dist.metadata["Name"], dist.metadata["Requires-Python"]
    if not requires:
        continue
    try:
        allowed = SpecifierSet(requires).contains(version, prereleases=True)
    except InvalidSpecifier:
        sys.exit(f"{name} requires Python {requires!r}, which cannot be read")
    if not allowed:
        sys.exit(f"{name} requires Python {requires}, and it is {version}")
for module in (
    "auditwheel.main",
    "auditwheel.main_repair",
    "auditwheel.repair",
    "auditwheel.wheel_abi",
):
    try:
        importlib.import_module(module)
    except Exception as e:
        sys.exit(f"{module} does not import ({type(e).__name__}: {e})")
print(importlib.metadata.version("auditwheel"))
