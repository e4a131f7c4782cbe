"""Can this (native) Python run a tool of the image's? Run by native-paths.sh with the
folders the image's interpreter imports the tool from at the front of sys.path, and the
tool's distribution and modules as arguments. Every distribution there that states a
Requires-Python must allow this Python's version (read with the packaging those folders
hold, which the tools need anyway), and the modules must import: a compiled module built for
the target's machine among them would not. Prints the tool's version; on failure, the reason,
and exits 1."""

import importlib
import importlib.metadata
import platform
import sys

dist_name, modules, folders = sys.argv[1], sys.argv[2:], sys.path[1:]
try:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
except ImportError as e:
    sys.exit(f"packaging does not import ({e})")

version = platform.python_version()
for dist in importlib.metadata.distributions(path=folders):
    name, requires = dist.metadata["Name"], dist.metadata["Requires-Python"]
    if not requires:
        continue
    try:
        allowed = SpecifierSet(requires).contains(version, prereleases=True)
    except InvalidSpecifier:
        sys.exit(f"{name} requires Python {requires!r}, which cannot be read")
    if not allowed:
        sys.exit(f"{name} requires Python {requires}, and it is {version}")
for module in modules:
    try:
        importlib.import_module(module)
    except Exception as e:  # any failure means: not this way
        sys.exit(f"{module} does not import ({type(e).__name__}: {e})")
print(importlib.metadata.version(dist_name))
