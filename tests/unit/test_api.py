"""The public API: what ``import manywheel`` offers, the README's example, typed events."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import manywheel
from manywheel._events import Emitter, EventKind, Payload
from manywheel._logs import Masker
from tests.conftest import ROOT
from tests.readme import readme_python_block

SRC = ROOT / "src" / "manywheel"
A, B = "cp313-manylinux_x86_64", "cp314-manylinux_x86_64"
TARGETS = (
    manywheel.Target(A, "3.13.1", False, "/opt/python/cp313-cp313/bin/python"),
    manywheel.Target(B, "3.14.0", False, "/opt/python/cp314-cp314/bin/python"),
)
PLAN = manywheel.Plan(
    (
        manywheel.BuildImage(
            "img:1",
            "sha256:1",
            manywheel.ImageFacts("manylinux_x86_64", "", "dnf", "bash", TARGETS),
        ),
    ),
    TARGETS,
)


def test_the_names_build_needs_are_exported() -> None:
    for name in ("Options", "Event", "Listener", "Plan", "Target", "TargetResult", "RunResult",
                 "TargetDone", "Step", "BuildStarted", "Summary", "build", "plan", "load_options",
                 "ManywheelError"):  # fmt: skip
        assert name in manywheel.__all__, name
    assert all(hasattr(manywheel, name) for name in manywheel.__all__)


def _fake_plan(
    options: manywheel.Options, listener: manywheel.Listener | None = None
) -> manywheel.Plan:
    assert options.project_dir == ROOT / "examples" / "c-extension"
    assert options.python == ("3.13",)
    return PLAN


def _fake_build(
    options: manywheel.Options, listener: manywheel.Listener | None = None
) -> manywheel.RunResult:
    """What ``build`` emits and returns for one built and one failed target, without an engine
    (the events go through a real Emitter: masked, typed)."""
    emitter = Emitter(listener, Masker(["s3cr3t-token"]))
    emitter.info(f"building 2 target(s): {A}, {B}", data=manywheel.BuildStarted("r1", "/l", (A, B)))
    emitter.emit("step", "build", target=A, data=manywheel.Step("build"))
    emitter.emit("output", "gcc -c x.c", target=A)
    emitter.warning("a warning naming s3cr3t-token")
    wheel = Path("dist/mw_cext-1.0.0-cp313-cp313-manylinux_2_34_x86_64.whl")
    built = manywheel.TargetResult(TARGETS[0], "built", [wheel], seconds=7.25)
    failed = manywheel.TargetResult(TARGETS[1], "failed", error="build step failed (exit 33)")
    for r in (built, failed):
        done = manywheel.TargetDone(r.status, r.seconds, None, r.error)
        emitter.emit("target-done", r.status, target=r.target.identifier, data=done)
    result = manywheel.RunResult("r1", PLAN, [built, failed], [wheel])
    emitter.emit("summary", "run finished", data=manywheel.Summary(result))
    return result


def test_readme_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's "Using manywheel from Python" block, as written, against a fake
    ``plan``/``build`` (real Options from the example's pyproject.toml, real events)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(manywheel, "plan", _fake_plan)
    monkeypatch.setattr(manywheel, "build", _fake_build)
    code = readme_python_block("Using manywheel from Python")
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.splitlines() == [
        f"targets: {A}, {B}",
        f"info: building 2 target(s): {A}, {B}",
        "warning: a warning naming ***",
        f"{A}: built in 7.25 s",
        f"{B}: failed in 0.0 s",
        f"{A} built dist/mw_cext-1.0.0-cp313-cp313-manylinux_2_34_x86_64.whl",
        f"{B} failed build step failed (exit 33)",
    ]


def test_every_string_of_a_payload_is_masked() -> None:
    secret = "tok-1234abcd"
    result = manywheel.RunResult("r", PLAN)
    payloads: list[tuple[EventKind, Payload]] = [
        ("info", manywheel.BuildStarted(f"r {secret}", f"/logs/{secret}", (A,))),
        ("step", manywheel.Step(f"build {secret}")),
        ("target-done", manywheel.TargetDone("failed", 1.0, f"/logs/{secret}.log", f"{secret}!")),
        ("summary", manywheel.Summary(result)),
    ]
    seen: list[manywheel.Event] = []
    emitter = Emitter(seen.append, Masker([secret]))
    for kind, data in payloads:
        emitter.emit(kind, f"about {secret}", target=A, data=data)
    for event in seen:
        assert secret not in event.message
        assert event.data is not None
        for f in dataclasses.fields(event.data):
            value = getattr(event.data, f.name)
            assert not (isinstance(value, str) and secret in value), (event.kind, f.name)
    assert seen[0].data == manywheel.BuildStarted("r ***", "/logs/***", (A,))
    assert isinstance(seen[3].data, manywheel.Summary)
    assert seen[3].data.result is result


def test_an_event_carries_only_its_own_payload() -> None:
    with pytest.raises(TypeError, match="'step' event cannot carry TargetDone"):
        manywheel.Event("step", "x", A, manywheel.TargetDone("built", 1.0, None, None))
    with pytest.raises(TypeError, match="'warning' event cannot carry Step"):
        manywheel.Event("warning", "x", None, manywheel.Step("build"))


def _imports(path: Path) -> set[str]:
    """The manywheel modules ``path`` imports (relative imports, resolved from src/manywheel)."""
    package = path.parent.relative_to(SRC).parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            found.add(".".join((*base, node.module or "")))
    return found


@pytest.mark.parametrize("module", ["_cli/render.py", "_cli/github.py", "_cli/live.py", "_report.py", "_merge.py", "_events.py"])  # fmt: skip
def test_front_ends_and_reports_take_types_from_the_model(module: str) -> None:
    """Renderers and reports read the data model, never the orchestrator or script writer."""
    imported = _imports(SRC / module)
    assert not {m for m in imported if m.split(".")[0] in ("_run", "_pipeline", "_plan", "_scripts", "_engines", "_prepare")}, imported  # fmt: skip


def test_the_model_is_data_only() -> None:
    assert _imports(SRC / "_model.py") == set()


def test_a_plan_finds_each_targets_image() -> None:
    x86 = manywheel.Target(A, "3.13.1", False, "/p", "manylinux_x86_64", "img:1")
    arm = manywheel.Target("cp313-manylinux_aarch64", "3.13.1", False, "/p",
                           "manylinux_aarch64", "arm:1")  # fmt: skip
    images = (
        manywheel.BuildImage("img:1", "sha256:1",
                             manywheel.ImageFacts("manylinux_x86_64", "", "dnf", "bash", ())),
        manywheel.BuildImage("arm:1", "sha256:2",
                             manywheel.ImageFacts("manylinux_aarch64", "", "dnf", "bash", ()),
                             "aarch64", "manylinux-aarch64-image"),
    )  # fmt: skip
    plan = manywheel.Plan(images, (x86, arm))
    assert plan.image_for(arm) is images[1]
    assert plan.targets_of(images[0]) == (x86,)
    assert plan.targets_of(images[1]) == (arm,)
    assert (arm.libc, arm.arch, images[1].platform) == ("manylinux", "aarch64", "manylinux_aarch64")
    # A target made without its image: the only image of a one-image plan...
    assert PLAN.image_for(TARGETS[0]) is PLAN.images[0]
    assert PLAN.targets_of(PLAN.images[0]) == TARGETS
    # ...and no image of several.
    with pytest.raises(LookupError, match=f"no image for {A}"):
        plan.image_for(TARGETS[0])
