"""build-requirements with the files it includes (-r, -c): all of them sent and hashed."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from manywheel import Options, load_options
from manywheel._config.requirements import requirement_files
from manywheel._errors import ConfigError
from manywheel._export import export_docker
from manywheel._manifest import fingerprint
from manywheel._model import BuildImage, ImageFacts, Plan, Target
from manywheel._scripts.build import build_script, venv_recipe
from manywheel._venvcache import venv_key

TARGET = Target("cp313-manylinux_x86_64", "3.13.1", False, "/opt/python/cp313-cp313/bin/python")
URL = "https://example.invalid/reqs.txt"


def tree(root: Path) -> Path:
    """A top file including others every way pip allows; returns the top file."""
    files = {
        "reqs/build.txt": (
            "# build requirements\n"
            "setuptools>=69  # a comment\n"
            "-r common/base.txt\n"
            "--constraint=../pins.txt\n"
            "--requirement \\\n"
            "  common/more.txt\n"
            f"-r {URL}\n"
        ),
        "reqs/common/base.txt": "wheel\n-rextra.txt\n",  # -rFILE, next to base.txt
        "reqs/common/extra.txt": "packaging\n",
        "reqs/common/more.txt": "cython\n--requirem ../../pins.txt\n",  # a prefix; the same file again
        "pins.txt": "wheel==0.44.0\ncython==3.1.0\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root / "reqs" / "build.txt"


def test_every_included_file_is_found_and_renamed(tmp_path: Path) -> None:
    top = tree(tmp_path)
    found = requirement_files(top)
    assert found.paths == tuple(
        (tmp_path / n).resolve()
        for n in (
            "reqs/build.txt",
            "reqs/common/base.txt",
            "reqs/common/extra.txt",
            "pins.txt",
            "reqs/common/more.txt",
        )
    )
    assert sorted(found.inbox) == [f"requirements-{i}.txt" for i in (1, 2, 3, 4)] + [
        "requirements.txt"
    ]
    top_text = found.inbox["requirements.txt"].decode()
    assert top_text.splitlines() == [
        "# build requirements",
        "setuptools>=69  # a comment",
        "--requirement requirements-1.txt",
        "--constraint requirements-3.txt",
        "--requirement requirements-4.txt",
        f"-r {URL}",  # a URL is left alone, as written
    ]
    assert found.inbox["requirements-1.txt"] == b"wheel\n--requirement requirements-2.txt\n"
    assert found.inbox["requirements-3.txt"] == (tmp_path / "pins.txt").read_bytes()
    assert found.inbox["requirements-4.txt"] == b"cython\n--requirement requirements-3.txt\n"


def test_pip_reads_the_renamed_files_as_it_reads_the_originals(tmp_path: Path) -> None:
    req_file = pytest.importorskip("pip._internal.req.req_file")
    session = pytest.importorskip("pip._internal.network.session")
    top = tree(tmp_path / "orig")
    text = top.read_text().replace(f"-r {URL}\n", "")  # pip would fetch it
    top.write_text(text)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, data in requirement_files(top).inbox.items():
        (inbox / name).write_bytes(data)

    def parsed(path: Path) -> list[tuple[str, bool]]:
        reqs = req_file.parse_requirements(str(path), session.PipSession())
        return sorted((r.requirement, r.constraint) for r in reqs)

    expected = parsed(top)
    assert ("wheel==0.44.0", True) in expected
    assert parsed(inbox / "requirements.txt") == expected


def test_a_missing_include_names_the_file_line_and_path(tmp_path: Path) -> None:
    top = tmp_path / "reqs.txt"
    top.write_text("numpy\n\n-c  constraints/missing.txt\n")
    with pytest.raises(ConfigError) as info:
        requirement_files(top)
    message = info.value.message
    assert f"{top}, line 3" in message
    assert str(tmp_path / "constraints" / "missing.txt") in message
    assert info.value.tip is not None
    # Loading the configuration checks it, before any engine work.
    with pytest.raises(ConfigError, match="line 3"):
        load_options(tmp_path, environ={}, cli={"build-requirements": str(top)})


def test_included_files_go_into_the_container_and_their_content_into_the_keys(
    tmp_path: Path,
) -> None:
    top = tree(tmp_path)
    opts = Options(tmp_path, build_requirements=top)
    script, files = build_script(opts, TARGET, "::m::", 1)
    assert "-r /manywheel/in/requirements.txt" in script
    assert requirement_files(top).inbox.items() <= files.items()
    key = venv_key(opts, TARGET, "env", venv_recipe(opts))
    fp = fingerprint(opts, TARGET, "env", "src")
    (tmp_path / "pins.txt").write_text("wheel==0.45.1\ncython==3.1.0\n")  # a pin changes
    assert venv_key(opts, TARGET, "env", venv_recipe(opts)) != key
    assert fingerprint(opts, TARGET, "env", "src") != fp
    # The export sends the same files along with each target's script.
    facts = ImageFacts("manylinux_x86_64", "", "apt-get", "bash", (TARGET,))
    exported = export_docker(opts, Plan((BuildImage("img:1", "sha256:x", facts),), (TARGET,)))
    inbox = f"targets/{TARGET.identifier}/manywheel/in/"
    sent = {f.path[len(inbox) :]: f.data for f in exported if f.path.startswith(inbox)}
    assert requirement_files(top).inbox.items() <= sent.items()


def test_a_file_without_includes_is_sent_as_it_is(tmp_path: Path) -> None:
    top = tmp_path / "reqs.txt"
    top.write_bytes(b"numpy  \\\n  >=2\r\n--pre\n")
    assert requirement_files(top).inbox == {"requirements.txt": top.read_bytes()}


def test_quoted_paths_and_non_utf8_bytes_survive(tmp_path: Path) -> None:
    (tmp_path / "with space.txt").write_bytes(b"caf\xe9\n")
    top = tmp_path / "reqs.txt"
    top.write_text("-r 'with space.txt'\n")
    inbox = requirement_files(top).inbox
    assert inbox["requirements-1.txt"] == b"caf\xe9\n"
    assert shlex.split(inbox["requirements.txt"].decode()) == [
        "--requirement",
        "requirements-1.txt",
    ]


def test_variables_and_absolute_paths_missing_here_are_left_for_the_container(
    tmp_path: Path,
) -> None:
    top = tmp_path / "reqs.txt"
    text = "-c /opt/image-only/constraints.txt\n-r ${CONFIG_DIR}/more.txt\n"
    top.write_text(text)
    assert requirement_files(top).inbox == {"requirements.txt": text.encode()}
