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
