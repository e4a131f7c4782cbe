"""pip or uv: which one installs into the build venv and build's isolated environment (and,
chosen again in the test container, the wheel and test-requires into the test venv).

The choice is made in the container, by the build script, because only there is it known
whether the image has ``uv`` on PATH and whether pip is configured (an ``ENV PIP_INDEX_URL``
in the image, a ``/etc/pip.conf`` written by a setup script). ``auto`` picks uv only when
nothing would make uv behave differently from pip: uv reads neither PIP_* variables nor
pip.conf, so a configured pip keeps the build on pip.
"""

from __future__ import annotations

from .._config.options import Options
from .shell import fixed_script, quote
from .steps import VENV_EXIT

__all__ = [
    "NETWORK_RETRIES",
    "PIP_CONFIG_FILES",
    "choose_lines",
    "install_line",
    "probe_line",
    "uv_exports",
]

# Where pip reads its configuration on Linux (besides $PIP_CONFIG_FILE and the venv's own).
PIP_CONFIG_FILES = (
    "/etc/pip.conf",
    "/etc/xdg/pip/pip.conf",
    "$HOME/.pip/pip.conf",
    "$HOME/.config/pip/pip.conf",
)

_FIX = 'set installer = "pip", or add uv to the image (system-packages or setup-script)'


def probe_line() -> str:
    """First line of the script (when the installer is auto): the PIP_* variables the container
    started with (image ENV, secret-environment), before the script exports its own."""
    return (
        "mw_pip_env=$(env | sed -n 's/^\\(PIP_[A-Za-z0-9_]*\\)=.*/\\1/p' | sort -u | tr '\\n' ' ')"
    )


# A dropped connection to the index should not fail a target that took minutes to reach its
# requirements step (it happens, more under emulation): more retries than the installers'
# defaults (uv 3, pip 5), each with their backoff. A value from the image or the project's
# environment (exported later) wins.
NETWORK_RETRIES = (
    'export UV_HTTP_RETRIES="${UV_HTTP_RETRIES:-8}" PIP_RETRIES="${PIP_RETRIES:-8}"',
)


def uv_exports(options: Options) -> list[str]:
    """uv's counterparts of the pip settings every build gets (harmless when pip is used)."""
    # The cache is a bind mount, the venv is not: hard links across them fail, so copy. A build
    # uses the image's interpreters, never one uv would download. System certificates, as pip's
    # truststore does, so an image's own CA store (or ca-bundle) works for both.
    lines = [
        "export UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_SYSTEM_CERTS=1 UV_NATIVE_TLS=1",
        *NETWORK_RETRIES,
    ]
    if not options.shared_cache:
        lines.append("export UV_NO_CACHE=1")
    return lines


def choose_lines(options: Options, config_files: tuple[str, ...] = PIP_CONFIG_FILES) -> list[str]:
    """Set ``mw_installer`` to pip or uv and say why; run after `source` and `environment`."""
    user_pip = sorted({name for name, _ in options.environment if name.startswith("PIP_")})
    lines = [f"mw_installer={quote(options.installer)}"]
    if user_pip and options.installer == "auto":  # only auto reads it
        lines.append(f'mw_pip_env="$mw_pip_env"{quote(" ".join(user_pip))}')
    if options.installer == "pip":
        lines.append("mw_why='installer = \"pip\"'")
    elif options.installer == "uv":
        missing = quote('installer = "uv", but the image has no uv on PATH: ' + _FIX)
        lines += [
            f"mw_uv=$(command -v uv 2>/dev/null) || fail {missing} {VENV_EXIT}",
            "mw_why=\"installer = 'uv': $mw_uv\"",
        ]
    else:
        # sh/installer-auto.sh: uv when the image has it and nothing configures pip.
        files = " ".join(f'"{path}"' for path in config_files)
        auto = fixed_script("installer-auto.sh").replace("__PIP_CONFIG_FILES__", files)
        lines += auto.splitlines()
    lines.append('echo "manywheel: installing with $mw_installer ($mw_why)"')
    return lines


def install_line(words: str, *, uv_flags: str = "", python: str = "") -> str:
    """Install ``words`` (already shell-quoted) with the chosen installer into the active venv,
    or into the venv of ``python`` (``uv_flags``: more options when it is uv)."""
    into = f" --python {python}" if python else ""
    more = f" {uv_flags}" if uv_flags else ""
    # ``mw_uvn``: the native uv, in a build container where it is the image's (cross.py).
    uv, pip = f'"${{mw_uvn:-uv}}" pip install{into}{more}', f"python -m pip{into} install"
    return f'if [ "$mw_installer" = uv ]; then {uv} {words}; else {pip} {words}; fi'
