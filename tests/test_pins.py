"""The serving pins have one source: the locked `serve` group of pyproject.toml."""

import json
import os
import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORT = [
    os.environ.get("UV", "uv"), "export", "--frozen", "--only-group", "serve", "--no-hashes", "--no-header",
    "--no-annotate", "--no-emit-project",
]  # fmt: skip


def serve_pins() -> dict[str, str]:
    group = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["serve"]
    return dict(line.split("==") for line in group)


def test_every_serving_library_is_pinned_exactly():
    for name, pinned in serve_pins().items():
        assert version(name) == pinned, f"{name}: installed {version(name)}, pinned {pinned}"


def test_artifacts_were_trained_with_the_pinned_libraries():
    trained = json.loads((ROOT / "model_artifacts" / "manifest.json").read_text())["libraries"]
    pins = serve_pins() | {"xgboost": serve_pins()["xgboost-cpu"]}
    for name, used in trained.items():
        if name != "python":
            assert pins[name] == used, f"{name}: trained with {used}, pinned {pins[name]}"


def test_image_requirements_are_the_locked_export():
    exported = subprocess.run(EXPORT, cwd=ROOT, capture_output=True, text=True, check=True)
    committed = (ROOT / "scoring" / "requirements.txt").read_text()
    assert committed == exported.stdout, "run `make requirements` and commit the result"
