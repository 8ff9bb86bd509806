"""The image tag is a hash of exactly what `scoring/Dockerfile` copies."""

import re
from pathlib import Path

import pytest

from infra import image
from infra.assets import DOCKERFILE
from infra.testing import ROOT


def test_every_copy_in_the_dockerfile_comes_from_a_hashed_folder():
    sources = [
        source
        for line in (ROOT / DOCKERFILE).read_text().splitlines()
        if (match := re.match(r"COPY\s+(.+)\s+\S+$", line))
        for source in match.group(1).split()
        if not source.startswith("--")
    ]
    assert sources
    for source in sources:
        assert any(Path(source).is_relative_to(folder) for folder in image.COPIED), source


def test_any_copied_file_changes_the_tag_and_bytecode_caches_do_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for folder in image.COPIED:
        folder.mkdir()
        (folder / "file").write_text("v1")
    before = image.image_digest()
    (image.COPIED[0] / "__pycache__").mkdir()
    (image.COPIED[0] / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert image.image_digest() == before
    for folder in image.COPIED:
        (folder / "extra").write_text("copied too")
        assert image.image_digest() != before
        before = image.image_digest()


@pytest.mark.parametrize("name", ["Dockerfile", "requirements.txt"])
def test_the_recipe_itself_is_hashed(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    for folder in image.COPIED:
        folder.mkdir()
    recipe = image.COPIED[0] / name
    recipe.write_text("a")
    before = image.image_digest()
    recipe.write_text("b")
    assert image.image_digest() != before


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, comments and blank lines dropped."""
    text = (ROOT / DOCKERFILE).read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def test_pip_installs_as_root_and_the_image_runs_as_the_base_images_user():
    # The base image's conda environment belongs to root; its runtime user is `dockeruser`.
    user = None  # the base image's own USER until the Dockerfile says otherwise
    installs = []
    for instruction, args in _instructions():
        if instruction == "USER":
            user = args
        elif instruction == "RUN" and re.search(r"\bpip\b.*\binstall\b", args):
            installs.append(user)
    assert installs and all(u == "root" for u in installs), installs
    assert user == "dockeruser"
