"""Preparing the build environment: the script for each package manager, and the commit."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from manywheel import BuildFailedError, Options
from manywheel._cache import CACHE_LABEL, open_cache_root
from manywheel._events import Emitter, Event
from manywheel._leftovers import INSTANCE_LABELS
from manywheel._model import ImageFacts
from manywheel._prepare import Preparation, preparation_for, prepare_environment
from tests.unit.fake_exec import CannedEngine, FakeProc

IN = "/manywheel/in"


def facts(pm: str | None, shell: str = "bash") -> ImageFacts:
    return ImageFacts("manylinux_x86_64", "", pm, shell, ())


def prep(options: Options, pm: str | None = "dnf", shell: str = "bash") -> Preparation:
    result = preparation_for(options, facts(pm, shell), "sha256:base")
    assert result is not None
    return result


def repos(tmp_path: Path) -> Path:
    folder = tmp_path / "repos"
    folder.mkdir()
    (folder / "extra.repo").write_text("[extra]\n")
    (folder / "key.gpg").write_bytes(b"\x99key")
    (folder / "sub").mkdir()  # folders are not copied
    return folder


@pytest.mark.parametrize(
    ("pm", "install", "repo_case"),
    [
        ("dnf", "dnf install -y zlib-devel 'a b' && dnf clean all", '*.repo) cp "$f" /etc/yum.repos.d/'),
        ("yum", "yum install -y zlib-devel 'a b' && yum clean all", "/etc/pki/rpm-gpg/"),
        ("apt-get", "--no-install-recommends zlib-devel 'a b' && rm -rf /var/lib/apt/lists/*",
         "*.list|*.sources) cp"),
        ("apk", "apk add --no-cache zlib-devel 'a b'", '*.pub) cp "$f" /etc/apk/keys/'),
    ],
)  # fmt: skip
def test_each_package_manager_installs_and_adds_repos(
    tmp_path: Path, pm: str, install: str, repo_case: str
) -> None:
    options = Options(tmp_path, system_packages=("zlib-devel", "a b"), repos_dir=repos(tmp_path))
    p = prep(options, pm)
    assert install in p.script
    assert f"installing system packages with {pm} failed" in p.script
    assert repo_case in p.script
    assert p.files == {"repos/extra.repo": b"[extra]\n", "repos/key.gpg": b"\x99key"}
    assert p.tag == f"localhost/manywheel-env:{p.key}"


def test_an_image_without_package_manager_fails_clearly(tmp_path: Path) -> None:
    """The script itself, run for real: it stops at once with exit 20 and says why."""
    p = prep(Options(tmp_path, system_packages=("zlib-devel",)), pm=None)
    r = subprocess.run(["/bin/sh", "-c", p.script], capture_output=True, text=True, check=False)
    assert r.returncode == 20
    assert r.stderr.startswith("manywheel: error: the image has no supported package manager")
    assert "install" not in r.stdout


def test_setup_script_as_a_file_of_the_project_or_as_text(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "setup.sh").write_text("echo from file\n")
    as_file = prep(Options(tmp_path, setup_script="ci/setup.sh"))
    assert as_file.files["setup-script"] == b"echo from file\n"
    assert as_file.files["setup.sh"] == f"bash {IN}/setup-script\n".encode()
    assert f"cd /project && if ! bash -e {IN}/setup.sh; then fail" in as_file.script
    assert as_file.with_project
    # With arguments, several lines, or a name that is no file: shell text, run by sh in an
    # image without bash.
    for text in ("ci/setup.sh --fast", "echo one\necho two", "missing.sh"):
        p = prep(Options(tmp_path, setup_script=text), shell="sh")
        assert "setup-script" not in p.files
        assert p.files["setup.sh"] == (text + "\n").encode()
        assert f"if ! sh -e {IN}/setup.sh" in p.script


def test_ca_bundle_becomes_the_trust_store(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("CERT")
    p = prep(Options(tmp_path, ca_bundle=ca, pip_extra_index_url=("https://a", "https://b")))
    assert p.files == {"ca-bundle.crt": b"CERT"}
    assert f"cp {IN}/ca-bundle.crt /etc/manywheel/ca-bundle.crt" in p.script
    assert f"if [ -e /etc/pki/tls/certs/ca-bundle.crt ]; then cat {IN}/ca-bundle.crt" in p.script
    assert "export PIP_EXTRA_INDEX_URL='https://a https://b'" in p.script
    assert "export UV_INDEX='https://a https://b'" in p.script


def engine_with_image(present: bool) -> CannedEngine:
    inspect = (0, "sha256:prepared\n", "") if present else (1, "", "Error: no such image")
    return CannedEngine({"image inspect --format {{.Id}} localhost/manywheel-env:": inspect})


def prepare(
    engine: CannedEngine, options: Options, p: Preparation, tmp_path: Path, events: list[Event]
) -> str:
    return prepare_environment(
        engine,
        options,
        p,
        "base:1",
        container_name="manywheel-r-prepare",
        run_labels={"manywheel.run": "r"},
        log_path=tmp_path / "logs" / "prepare.log",
        emitter=Emitter(events.append),
    )


def test_a_prepared_image_that_exists_is_reused(tmp_path: Path) -> None:
    options = Options(tmp_path, system_packages=("zlib-devel",), cache_dir=tmp_path / "cache")
    p, engine, events = prep(options), engine_with_image(present=True), []
    assert prepare(engine, options, p, tmp_path, events) == p.tag
    assert engine.containers_made == []
    assert [e.message for e in events] == [
        f"prepared environment {p.tag} is up to date (setup skipped)"
    ]
    # cache-prepared off: prepared again although the image exists.
    options = Options(tmp_path, system_packages=("zlib-devel",), cache_dir=tmp_path / "cache",
                      cache_prepared=False)  # fmt: skip
    engine = engine_with_image(present=True)
    engine.procs = [FakeProc(stdin=True)]
    assert prepare(engine, options, p, tmp_path, events) == p.tag
    assert engine.containers_made == ["base:1 as manywheel-r-prepare"]
    assert [args[0] for args in engine.calls if args[0] == "commit"] == ["commit"]


def test_preparing_runs_the_script_masks_the_log_and_commits(tmp_path: Path) -> None:
    options = Options(
        tmp_path,
        system_packages=("zlib-devel",),
        cache_dir=tmp_path / "cache",
        environment=(("MY_TOKEN", "tok-1234abcd"),),
        labels=(("org.example", "yes"),),
    )
    p = prep(options)
    engine = engine_with_image(present=False)
    engine.answers["exec -i manywheel-r-prepare /bin/sh -s"] = (0, "using tok-1234abcd\n", "")
    engine.procs = [FakeProc(stdin=True)]
    events: list[Event] = []
    assert prepare(engine, options, p, tmp_path, events) == p.tag
    assert engine.containers_made == ["base:1 as manywheel-r-prepare"]
    assert engine.exec_calls[0][1][:2] == ["/bin/sh", "-c"]  # the files, copied in
    scripts = [proc.input for proc, args in zip(engine.given, engine.calls, strict=True)
               if args[:2] == ["exec", "-i"]]  # fmt: skip
    assert scripts == [p.script.encode(), f"rm -rf {IN}".encode()]
    assert (tmp_path / "logs" / "prepare.log").read_text() == "using ***\n"
    commit = next(args for args in engine.calls if args[0] == "commit")
    assert commit[-2:] == ["manywheel-r-prepare", p.tag]
    labels = dict(
        tuple(json.loads(x) for x in change.removeprefix("LABEL ").split("=", 1))
        for change in commit[2:-2:2]
    )
    cache_id = open_cache_root(tmp_path / "cache").id
    assert labels == {
        "org.example": "yes",
        **dict.fromkeys(INSTANCE_LABELS, ""),
        "manywheel.prepared": "1",
        "manywheel.key": p.key,
        "manywheel.base": "base:1",
        CACHE_LABEL: str(cache_id),
    }
    assert [(e.kind, e.message) for e in events] == [
        ("step", "preparing the build environment (base:1)"),
        ("info", f"prepared environment saved as {p.tag}"),
    ]


def test_a_failed_preparation_shows_the_tail_and_commits_nothing(tmp_path: Path) -> None:
    options = Options(tmp_path, system_packages=("nosuch",), cache_dir=tmp_path / "cache")
    p = prep(options)
    engine = engine_with_image(present=False)
    output = "".join(f"line {i}\n" for i in range(30)) + "No match for argument: nosuch\n"
    engine.answers["exec -i"] = (21, output, "")
    engine.procs = [FakeProc(stdin=True)]
    with pytest.raises(BuildFailedError) as info:
        prepare(engine, options, p, tmp_path, [])
    message = info.value.message.splitlines()
    assert message[0] == "preparing the environment failed (exit 21):"
    assert message[1:] == [f"line {i}" for i in range(16, 30)] + ["No match for argument: nosuch"]
    assert info.value.tip == f"full log: {tmp_path / 'logs' / 'prepare.log'}"
    assert (tmp_path / "logs" / "prepare.log").read_text() == output
    assert not any(args[0] == "commit" for args in engine.calls)


@pytest.mark.parametrize(
    ("pm", "rewrite"),
    [
        ("dnf", "baseurl=https://mirror.example%"),
        ("yum", "s%^(mirrorlist|metalink)=%#\\1=%"),
        ("apk", "s%^(@[^ ]+ +)?[a-z]+://[^/]+%\\1https://mirror.example%' /etc/apk/repositories"),
    ],
)
def test_distro_mirror_for_each_package_manager(tmp_path: Path, pm: str, rewrite: str) -> None:
    p = prep(Options(tmp_path, distro_mirror="https://mirror.example/"), pm)
    assert rewrite in p.script
    assert "say 'package repositories now use https://mirror.example/'" in p.script
    # No package manager: nothing to rewrite, and the script says why it stops.
    assert (
        "fail 'the image has no supported package manager"
        in prep(Options(tmp_path, distro_mirror="https://mirror.example/"), None).script
    )


def test_a_setup_script_runs_in_the_project_and_its_key_covers_the_projects_files(
    tmp_path: Path,
) -> None:
    """As cibuildwheel's before-all: in the project folder ({project}, {package} filled in),
    with CIBUILDWHEEL=1; what it sees is in its key, and only then."""
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "sys.txt").write_text("zlib\n")
    opts = Options(tmp_path, setup_script="xargs yum install -y < {package}/requirements/sys.txt")
    first = prep(opts)
    assert first.files["setup.sh"] == b"xargs yum install -y < /project/requirements/sys.txt\n"
    assert "export CIBUILDWHEEL=1" in first.script
    assert prep(opts).key == first.key
    (tmp_path / "requirements" / "sys.txt").write_text("zlib\nbzip2\n")
    assert prep(opts).key != first.key
    # Without a setup script the project is not copied, and its files change nothing.
    packages = prep(Options(tmp_path, system_packages=("zlib",)))
    assert not packages.with_project
    (tmp_path / "new.c").write_text("int x;\n")
    assert prep(Options(tmp_path, system_packages=("zlib",))).key == packages.key
