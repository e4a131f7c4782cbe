"""`python -m manywheel`: the command line (see ``_cli``)."""

from __future__ import annotations

from ._cli.main import entrypoint

if __name__ == "__main__":
    entrypoint()
