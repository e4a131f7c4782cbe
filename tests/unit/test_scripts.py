"""The shell the library writes: build script and preparation (run for real by integration tests)."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from manywheel import Options
from manywheel._errors import ConfigError
from manywheel._events import Emitter, Event
from manywheel._export import export_docker, write_export
from manywheel._layout import CONTAINER, Layout
from manywheel._logs import TargetLog
from manywheel._model import BuildImage, ImageFacts, Plan, Target, TargetResult
from manywheel._prepare import IN, _mirror_lines, preparation_for
from manywheel._scripts.build import (
    _prefix_map_lines,
    build_script,
    environment_lines,
    stream_steps,
    venv_recipe,
)
from manywheel._venvcache import venv_key

TARGET = Target("cp313-manylinux_x86_64", "3.13.1", False, "/opt/python/cp313-cp313/bin/python")
FACTS = ImageFacts("manylinux_x86_64", "", "apt-get", "bash", (TARGET,))


def script(options: Options) -> tuple[str, dict[str, bytes]]:
    return build_script(options, TARGET, "::mark::", 2)


def test_default_build_installs_build_and_repairs(tmp_path: Path) -> None:
    text, files = script(Options(tmp_path))  # the defaults, as with no configuration
    assert "python -m build . --wheel --outdir=/manywheel/built $mw_iso || fail" in text
    assert "export CIBUILDWHEEL=1" in text
    assert text.index("cd /project") < text.index("step venv")  # every step in the project
    assert "else python -m pip install build; fi ||" in text
    assert 'then "${mw_uvn:-uv}" pip install build;' in text
    assert files["make-venv.sh"].startswith(b"set -eu")
    assert (
        files["repair.sh"]
        == b'auditwheel repair ${MW_PLAT:+--plat "$MW_PLAT"} -w "$MW_DEST_DIR" "$MW_WHEEL"\n'
    )
    assert 'export MW_PLAT="${AUDITWHEEL_PLAT:-}"' in text
    # only a pure wheel skips the repair; one tagged manylinux by its build is repaired too
    assert '    *-none-any.whl) echo "pure, nothing to repair' in text
    assert "*manylinux*)" not in text
    assert "export MAKEFLAGS=-j2" in text


def test_custom_command_requirements_no_isolation(tmp_path: Path) -> None:
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("numpy\n")
    opts = Options(
        tmp_path,
        build_command="bash ./build_wheel_manylinux.sh",
        build_requirements=reqs,
        build_isolation=False,
        repair_plat="manylinux_2_34_x86_64",
    )
    text, files = script(opts)
    assert files["build-command.sh"] == b"bash ./build_wheel_manylinux.sh\n"
    assert files["requirements.txt"] == b"numpy\n"
    assert "-r /manywheel/in/requirements.txt" in text
    assert "export MW_PLAT=manylinux_2_34_x86_64" in text


def test_source_then_environment_with_expansion(tmp_path: Path) -> None:
    opts = Options(
        tmp_path,
        source=("/opt/intel/oneapi/setvars.sh --force",),
        environment=(("CFLAGS", '"-DX=\\"$FLAG\\""'), ("P", '"$PATH:/x"')),
    )
    text, _ = script(opts)
    src = text.index(". /opt/intel/oneapi/setvars.sh --force")
    env = text.index('export CFLAGS="-DX=\\"$FLAG\\""')
    venv = text.index("step venv")
    assert src < env < venv
    # The exported values really expand as documented.
    out = subprocess.run(
        ["bash", "-c", 'FLAG=on; PATH=/bin; export CFLAGS="-DX=\\"$FLAG\\""; echo "$CFLAGS"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == '-DX="on"'


def test_missing_source_script_has_clear_message(tmp_path: Path) -> None:
    text, _ = script(Options(tmp_path, source=("/nope/setvars.sh",)))
    part = text[: text.index("step venv")].replace("step() {", "step() { :; }; _unused() {")
    part = part.replace("cd /project", "cd /")  # (no project folder on this machine)
    r = subprocess.run(["bash", "-c", part], capture_output=True, text=True, check=False)
    assert r.returncode == 30
    assert "source: /nope/setvars.sh does not exist in the image" in r.stderr


def test_no_preparation_when_nothing_asked(tmp_path: Path) -> None:
    assert preparation_for(Options(tmp_path), FACTS, "sha256:base") is None


def test_preparation_key_covers_every_input(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("A")
    base = Options(tmp_path, system_packages=("zlib1g-dev",), ca_bundle=ca)
    key = preparation_for(base, FACTS, "sha256:base")
    assert key is not None
    same = preparation_for(base, FACTS, "sha256:base")
    assert same is not None
    assert same.key == key.key
    variants = [
        preparation_for(base, FACTS, "sha256:other-base"),
        preparation_for(
            Options(tmp_path, system_packages=("zlib1g-dev", "x"), ca_bundle=ca),
            FACTS,
            "sha256:base",
        ),
        preparation_for(
            Options(tmp_path, system_packages=("zlib1g-dev",), ca_bundle=ca, labels=(("a", "b"),)),
            FACTS,
            "sha256:base",
        ),
    ]
    ca.write_text("B")
    variants.append(preparation_for(base, FACTS, "sha256:base"))
    keys = {v.key for v in variants if v is not None}
    assert len(keys) == 4
    assert key.key not in keys


def test_the_setup_script_runs_with_the_environment_evaluated(tmp_path: Path) -> None:
    """As cibuildwheel's before-all: `environment` exported (in the container, so $VAR and
    $(cmd) are its own) before the script, and part of the prepared image's key."""
    env = (("LIBFOO", '"$HOME/foo"'), ("NOT_SET_HERE", '"$UNSET_VAR/x"'))
    prep = preparation_for(
        Options(tmp_path, setup_script="echo $LIBFOO", environment=env), FACTS, "sha256:b"
    )
    assert prep is not None
    body = prep.script
    assert body.index('export LIBFOO="$HOME/foo"') < body.index("/setup.sh")
    # the exports, run for real as the script does (set -eu), reach the setup script
    exports = body[body.index("set +u") : body.index("set -u") + len("set -u")]
    run = subprocess.run(
        ["bash", "-c", f"set -eu\n{exports}\necho $LIBFOO $NOT_SET_HERE"],
        capture_output=True, text=True, check=True, env={"HOME": "/h"},
    )  # fmt: skip
    assert run.stdout.split() == ["/h/foo", "/x"]
    other = preparation_for(Options(tmp_path, setup_script="echo $LIBFOO"), FACTS, "sha256:b")
    assert other is not None
    assert other.key != prep.key
    # without a setup script, the environment does not touch the prepared image
    plain = preparation_for(
        Options(tmp_path, system_packages=("x",), environment=env), FACTS, "sha256:b"
    )
    assert plain is not None
    assert "LIBFOO" not in plain.script


def test_preparation_script_installs_with_detected_manager(tmp_path: Path) -> None:
    prep = preparation_for(
        Options(
            tmp_path, system_packages=("libzstd-dev",), distro_mirror="https://mirror.example/"
        ),
        FACTS,
        "id",
    )
    assert prep is not None
    assert "apt-get install -y --no-install-recommends libzstd-dev" in prep.script
    assert "https://mirror.example%" in prep.script


def test_mirror_rewrite_really_rewrites_sources(tmp_path: Path) -> None:
    """Run the generated sed lines on real-looking repo files, in a folder standing for /etc
    (never on this machine's own: the test may run as root)."""
    etc = tmp_path / "etc"
    (etc / "apt" / "sources.list.d").mkdir(parents=True)
    apt = etc / "apt" / "sources.list"
    apt.write_text(
        "deb http://deb.debian.org/debian forky main\ndeb [arch=amd64] https://x.org/debian-security forky-security main\n"
    )
    deb822 = etc / "apt" / "sources.list.d" / "debian.sources"
    deb822.write_text("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: forky\n")
    script = "\n".join(_mirror_lines("apt-get", "https://m.example")).replace("/etc/", f"{etc}/")
    assert "/etc/" not in script.replace(f"{etc}/", "")
    subprocess.run(["bash", "-c", script], check=True)
    assert deb822.read_text() == "Types: deb\nURIs: https://m.example/debian\nSuites: forky\n"
    assert apt.read_text() == (
        "deb https://m.example/debian forky main\n"
        "deb [arch=amd64] https://m.example/debian-security forky-security main\n"
    )
    repo = tmp_path / "x.repo"
    repo.write_text(
        "[baseos]\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/9/baseos\n# baseurl=https://repo.almalinux.org/almalinux/9/BaseOS/x86_64/os/\n"
    )
    script = "\n".join(_mirror_lines("dnf", "https://m.example")).replace(
        "/etc/yum.repos.d/*.repo", str(repo)
    )
    assert "/etc/" not in script
    subprocess.run(["bash", "-c", script], check=True)
    assert repo.read_text() == (
        "[baseos]\n#mirrorlist=https://mirrors.almalinux.org/mirrorlist/9/baseos\n"
        "baseurl=https://m.example/almalinux/9/BaseOS/x86_64/os/\n"
    )


def test_venv_cache_modes(tmp_path: Path) -> None:
    opts = Options(tmp_path)
    target = TARGET
    plain, files = build_script(opts, target, "::m::", 1)
    assert "make-venv.sh" in files
    assert "venv.tar" not in plain
    save, _ = build_script(opts, target, "::m::", 1, venv_cache="save")
    # The snapshot is taken after the requirements and before the build can touch the venv.
    snap = save.index("tar -cf /manywheel/venv.tar -C /manywheel venv")
    assert save.index("step requirements") < snap < save.index("step build")
    # It is copied out while the script waits, and gone before any build code runs.
    said = save.index("printf '%s snapshot\\n' ::m::")
    waited = save.index("while [ ! -e /manywheel/snapshot-taken ]")
    removed = save.index("rm -f /manywheel/venv.tar /manywheel/snapshot-taken")
    assert snap < said < waited < removed < save.index("step build")
    restore, files = build_script(opts, target, "::m::", 1, venv_cache="restore")
    assert "tar -xf /manywheel/in/venv.tar -C /manywheel" in restore
    assert "step requirements" not in restore
    assert "make-venv.sh" not in files


def test_venv_key_follows_what_the_venv_holds(tmp_path: Path) -> None:
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("numpy\n")
    opts = Options(tmp_path, build_requirements=reqs)
    key = venv_key(opts, TARGET, "env", venv_recipe(opts))
    assert key == venv_key(opts, TARGET, "env", venv_recipe(opts))
    assert key != venv_key(opts, TARGET, "other-image", venv_recipe(opts))
    reqs.write_text("numpy==2.3\n")
    assert key != venv_key(opts, TARGET, "env", venv_recipe(opts))
    with_env = Options(tmp_path, build_requirements=reqs, environment=(("CC", "clang"),))
    assert venv_key(with_env, TARGET, "env", venv_recipe(with_env)) != venv_key(
        opts, TARGET, "env", venv_recipe(opts)
    )
    # What only the build uses does not change the venv...
    make = Options(tmp_path, build_requirements=reqs, build_command="make wheel")
    other = Options(tmp_path, build_requirements=reqs, build_command="bash build.sh")
    assert venv_key(other, TARGET, "env", venv_recipe(other)) == venv_key(
        make, TARGET, "env", venv_recipe(make)
    )
    now = venv_key(opts, TARGET, "env", venv_recipe(opts))
    repair = Options(tmp_path, build_requirements=reqs, repair_command="")
    assert venv_key(repair, TARGET, "env", venv_recipe(repair)) == now
    # ...but a script of the user's gets pip in the venv, and the installer may change it.
    assert venv_key(make, TARGET, "env", venv_recipe(make)) != now
    pip = Options(tmp_path, build_requirements=reqs, installer="pip")
    assert venv_key(pip, TARGET, "env", venv_recipe(pip)) != now


def test_venv_has_pip_unless_uv_installs_and_no_user_script_runs(tmp_path: Path) -> None:
    default, _ = script(Options(tmp_path))
    assert 'if [ "$mw_installer" = uv ]; then mw_pip=no-pip; fi' in default
    for custom in (Options(tmp_path, build_command="make"), Options(tmp_path, before_build="x")):
        text, _ = script(custom)
        assert "mw_pip=pip\n" in text
        assert "no-pip" not in text


def _exported_listing(project: Path, options: Options) -> set[str]:
    """The files the exported script copies, run with real bash and tar (no engine needed)."""
    files = export_docker(options, Plan((BuildImage("img:1", "sha256:x", FACTS),), (TARGET,)))
    text = next(f.data.decode() for f in files if f.path == "build-wheels.sh")
    start = text.index("excludes=(")
    block = text[start : text.index("\ndone\n", start) + len("\ndone\n")]
    here = shlex.quote(str(project / "manywheel-export"))
    shell = (
        f"project={shlex.quote(str(project))} output=$project/dist here={here}\n"
        + block
        + 'tar -C "$project" "${excludes[@]}" -cf - . | tar -tf -\n'
    )
    listing = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True)
    return {line.removeprefix("./").rstrip("/") for line in listing.stdout.split()}


def _tree(project: Path, names: list[str]) -> None:
    for name in names:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("x\n")


def test_export_copies_the_project_without_host_folders(tmp_path: Path) -> None:
    project = tmp_path / "project"
    keep = ["pyproject.toml", "src/mod.c", "src/dist-info.txt", "src/data/x.c", "bigger/x"]
    drop = [".venv/bin/python", "src/__pycache__/m.pyc", "src/m.pyc", "dist/a.whl",
            "cache/uv/x", "logs/run/x.log", "manywheel-export/build-wheels.sh", ".git/HEAD",
            "src/.hg/store", "data/raw.bin", "src/sample.h5", "big/sub/blob", "big/blob"]  # fmt: skip
    _tree(project, keep + drop)
    options = Options(
        project,
        output_dir=project / "dist",
        cache_dir=project / "cache",
        log_dir=project / "logs",
        exclude=("/data/", "*.h5", "big/**"),
    )
    names = _exported_listing(project, options)
    assert set(keep) <= names
    assert not {n for n in names if n.split("/")[0] in {".venv", "dist", "cache", "logs"}}
    assert not {n for n in names if "__pycache__" in n or n.endswith(".pyc")}
    assert not {n for n in names if n.startswith("manywheel-export")}
    assert not set(drop) & names
    assert "big" in names  # big/** leaves the folder itself, as in gitignore


def test_secrets_computed_in_the_script_are_masked_from_then_on(tmp_path: Path) -> None:
    """The script's environment part, run for real in bash (with xtrace on, as a sourced
    script may leave it): each secret's value as evaluated there reaches the log's mask on a
    control line that is neither logged nor shown; a two-line value is masked line by line."""
    opts = Options(
        tmp_path,
        environment=(
            ("DB_PASSWORD", "\"$(printf 'line-one1\\nline-two2')\""),
            ("API_KEY", "ab"),  # too short to mask
            ("SAY", '"db=$DB_PASSWORD host=$MY_SECRET key=$API_KEY"'),
        ),
        secret_environment=("MY_SECRET", "UNSET_SECRET"),
    )
    text = "set -eu\nset -x\n" + "\n".join(environment_lines(opts, "::m::"))
    text += '\necho "$SAY"\nset +x\necho "$DB_PASSWORD" >&2\n'
    proc = subprocess.Popen(
        ["bash", "-c", text],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "MY_SECRET": "host-5678efgh"},
    )
    shown: list[Event] = []
    emitter = Emitter(shown.append)
    result = TargetResult(TARGET)
    with TargetLog(tmp_path / "t.log", ()) as log:
        stream_steps(proc, log, "::m::", result, emitter)
        assert proc.wait() == 0
        tail = log.tail()
    logged = (tmp_path / "t.log").read_text()
    output = [e.message for e in shown if e.kind == "output"]
    for shown_as in ("db=***", "host=***", "key=ab"):
        assert shown_as in logged
    assert output[-2:] == ["***", "***"]  # the two lines of DB_PASSWORD
    for secret in ("line-one1", "line-two2", "host-5678efgh", "::m:: secret"):
        assert secret not in logged
        assert not any(secret in line for line in output + tail)
    assert emitter.masker("x line-two2") == "x ***"  # run-level events are masked too


def test_export_never_writes_a_secret(tmp_path: Path) -> None:
    """Secret-named environment entries and secret-environment reach the exported build by
    name when it runs; build-wheels.sh says which are not set."""
    project = tmp_path / "project"
    project.mkdir()
    opts = Options(
        project,
        environment=(("API_TOKEN", '"tok-1234abcd"'), ("DB_PASSWORD", '"$(cat /project/pw)"'),
                     ("CFLAGS", '"-O2"')),
        secret_environment=("MY_SECRET",),
    )  # fmt: skip
    files = {
        f.path: f.data.decode()
        for f in export_docker(opts, Plan((BuildImage("img:1", "x", FACTS),), (TARGET,)))
    }
    for path, data in files.items():
        for secret in ("tok-1234abcd", "cat /project/pw", "API_TOKEN=", "DB_PASSWORD="):
            assert secret not in data, path
        assert "secret %s" not in data, path  # no value reported on the terminal either
    build = files[f"targets/{TARGET.identifier}/manywheel/in/build.sh"]
    assert 'export CFLAGS="-O2"' in build
    script = files["build-wheels.sh"]
    assert (
        '"$engine" exec --env MY_SECRET --env API_TOKEN --env DB_PASSWORD --env SOURCE_DATE_EPOCH "$name"'
        in script
    )
    check = script[script.index("missing=()") : script.index("\nfi\n") + 4]
    r = subprocess.run(
        ["bash", "-c", check], env={"API_TOKEN": "x"}, check=False, capture_output=True, text=True
    )
    assert r.returncode == 2
    assert "set MY_SECRET DB_PASSWORD in the environment" in r.stderr
    with pytest.raises(ConfigError, match="secret variable would be written into"):
        export_docker(
            replace(opts, build_command="make TOKEN=tok-1234abcd"),
            Plan((BuildImage("img:1", "x", FACTS),), (TARGET,)),
        )


def test_export_keeps_git_for_a_project_versioned_from_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    _tree(project, ["src/mod.c", ".git/HEAD", ".git/refs/tags/v1"])
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64", "setuptools_scm[toml]>=8"]\n'
    )
    names = _exported_listing(project, Options(project))
    assert {".git/HEAD", ".git/refs/tags/v1", "src/mod.c"} <= names


def test_exported_labels_cannot_inject_dockerfile_lines(tmp_path: Path) -> None:
    labels = (("maintainer", "me\nRUN touch /pwned"), ('k"\\ey', "$HOME 'x' \\n"))
    options = Options(tmp_path, labels=labels)
    files = export_docker(options, Plan((BuildImage("img:1", "sha256:x", FACTS),), (TARGET,)))
    text = next(f.data.decode() for f in files if f.path == "Dockerfile")
    assert not [line for line in text.splitlines() if line.startswith("RUN touch")]
    label_lines = [line for line in text.splitlines() if line.startswith("LABEL ")]
    assert label_lines == [
        'LABEL "maintainer"="me\\nRUN touch /pwned"',
        'LABEL "k\\"\\\\ey"="\\$HOME \'x\' \\\\n"',
    ]
    # What both engines read back from such words (checked with docker and podman builds):
    # \" and \\ and \$ are the characters themselves; a \n stays a backslash and an n.


def test_exported_script_quotes_the_paths_it_is_written_with(tmp_path: Path) -> None:
    project = tmp_path / "pro ject $(touch pwned)"
    for output in (project / "wheel house", tmp_path / "out's"):
        options = Options(project, output_dir=output)
        files = export_docker(options, Plan((BuildImage("img:1", "sha256:x", FACTS),), (TARGET,)))
        folder = tmp_path / "export `x`"
        write_export(files, folder, project)
        (project).mkdir(exist_ok=True)
        text = (folder / "build-wheels.sh").read_text()
        head = text[: text.index("\nengine=")]
        shell = head + '\nprintf "%s|%s" "$project" "$output"\n'
        run = subprocess.run(
            ["bash", "-c", shell, str(folder / "build-wheels.sh")],
            capture_output=True, text=True, check=True, cwd=tmp_path,
        )  # fmt: skip
        assert run.stdout == f"{project}|{output}"
        assert not (tmp_path / "pwned").exists()


def test_a_reproducible_build_sets_its_epoch_hash_seed_and_temporary_folder(
    tmp_path: Path,
) -> None:
    plain, _ = script(Options(tmp_path))
    for word in ("SOURCE_DATE_EPOCH", "PYTHONHASHSEED", "TMPDIR", "prefix-map", "--env-dir"):
        assert word not in plain  # reproducible = false: the build as before
    options = Options(tmp_path, environment=(("CFLAGS", '"-O3"'),))
    text, _ = build_script(options, TARGET, "::mark::", 2, epoch=1700000000)
    lines = text.splitlines()
    exported = lines.index(
        "export SOURCE_DATE_EPOCH=1700000000 PYTHONHASHSEED=0 TMPDIR=/manywheel/tmp"
    )
    assert lines[exported + 1] == "mkdir -p /manywheel/tmp"
    # the maps come after the user's environment, so they are added to what it sets
    assert lines.index('export CFLAGS="-O3"') < lines.index(
        '  export CPPFLAGS="${CPPFLAGS:+$CPPFLAGS }$mw_map"'
    )
    assert "-ffile-prefix-map=/project=." in text
    assert "--env-dir=/manywheel/build-env" in text
    assert text.index("--env-dir") < text.index(
        "python -m build . --wheel --outdir=/manywheel/built $mw_iso"
    )


def test_the_isolated_environment_is_fixed_only_where_build_makes_it(tmp_path: Path) -> None:
    for options in (
        Options(tmp_path, build_isolation=False),
        Options(tmp_path, build_command="python -m build --wheel --outdir $MANYWHEEL_WHEEL_DIR"),
    ):
        text, _ = build_script(options, TARGET, "::mark::", 2, epoch=0)
        assert "--env-dir" not in text
        assert "SOURCE_DATE_EPOCH=0" in text


def run_prefix_maps(
    tmp_path: Path, layout: Layout, env: dict[str, str], accepts: str
) -> dict[str, str]:
    """Run the generated flag lines in sh with a C compiler that takes ``accepts`` only."""
    cc = tmp_path / "cc"
    cc.write_text(f'#!/bin/sh\ncase "$*" in *{accepts}*) exit 0 ;; esac\nexit 1\n')
    cc.chmod(0o755)
    body = "\n".join(["set -eu", *_prefix_map_lines(layout), "env"])
    r = subprocess.run(
        ["sh", "-c", body],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "CC": str(cc), "SOURCE_DATE_EPOCH": "7",
             "PYTHONHASHSEED": "0", **env},
    )  # fmt: skip
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    out["said"] = next(line for line in r.stdout.splitlines() if line.startswith("manywheel:"))
    return out


def test_path_maps_go_to_cppflags_and_to_the_flags_already_set(tmp_path: Path) -> None:
    moved = Layout(work="/manywheel-check", project="/project-check")
    maps = "-ffile-prefix-map=/project-check=. -ffile-prefix-map=/manywheel-check=/manywheel"
    env = run_prefix_maps(tmp_path, moved, {"CFLAGS": "-O3 -g", "CPPFLAGS": "-DX"}, "file-prefix")
    assert env["CPPFLAGS"] == f"-DX {maps}"
    assert env["CFLAGS"] == f"-O3 -g {maps}"  # appended, never replacing
    # Unset, a CFLAGS would replace setuptools' own flags (-O2, -DNDEBUG): left unset.
    for name in ("CXXFLAGS", "FFLAGS", "FCFLAGS"):
        assert name not in env
    assert env["said"].endswith(f"{maps} added to CPPFLAGS CFLAGS")
    # In the container's own folders, only the project needs a map.
    env = run_prefix_maps(tmp_path, CONTAINER, {"FFLAGS": "-O2"}, "file-prefix")
    assert env["CPPFLAGS"] == "-ffile-prefix-map=/project=."
    assert env["FFLAGS"] == "-O2 -ffile-prefix-map=/project=."


def test_an_older_compiler_gets_debug_prefix_maps_and_none_without_either(
    tmp_path: Path,
) -> None:
    env = run_prefix_maps(tmp_path, CONTAINER, {}, "debug-prefix")
    assert env["CPPFLAGS"] == "-fdebug-prefix-map=/project=."
    env = run_prefix_maps(tmp_path, CONTAINER, {"CFLAGS": "-O1"}, "nothing-at-all")
    assert "CPPFLAGS" not in env
    assert env["CFLAGS"] == "-O1"
    assert "so the build's paths are not mapped" in env["said"]


def test_the_exported_build_scripts_are_reproducible_as_the_run_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    plan = Plan((BuildImage("img:1", "sha256:x", FACTS),), (TARGET,))
    for reproducible in (True, False):
        files = {
            f.path: f.data
            for f in export_docker(Options(tmp_path, reproducible=reproducible), plan)
        }
        build = files[f"targets/{TARGET.identifier}{IN}/build.sh"].decode()
        assert ("export SOURCE_DATE_EPOCH=1700000000 PYTHONHASHSEED=0" in build) is reproducible


def test_installers_retry_the_index_more_unless_the_image_or_project_says(tmp_path: Path) -> None:
    """uv and pip get 8 retries where the image and the project set none; their own values win
    (the line is real shell: run it with each)."""
    text, _ = script(Options(tmp_path, environment=(("PIP_RETRIES", "2"),)))
    line = next(x for x in text.splitlines() if "UV_HTTP_RETRIES=" in x)
    assert text.index(line) < text.index("export PIP_RETRIES=2")  # the project's comes later
    show = f'{line}; echo "$UV_HTTP_RETRIES $PIP_RETRIES"'

    def run(env: dict[str, str]) -> list[str]:
        out = subprocess.run(
            ["bash", "-c", show], capture_output=True, text=True, env=env, check=True
        )
        return out.stdout.split()

    assert run({}) == ["8", "8"]
    assert run({"UV_HTTP_RETRIES": "1"}) == ["1", "8"]
