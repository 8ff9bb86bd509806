"""What the service runs, registered in the workspace: the model, its environment and the code.

Files are uploaded one blob each into the assets container. Versions come from content:
the model's name and version from `model_artifacts/manifest.json` (training bumps the version
when an artifact changes), the environment's and the code's from a hash of what they hold, so
an unchanged file produces no diff and a changed one a new version.

Registered versions are kept. A version's content cannot change (only its tags and
description can), and the stable deployment keeps running versions the repository no longer
declares: so the versions, their containers and the blobs they point at are retained when Pulumi
replaces or deletes them (`retain_on_delete`; the workspace's own deletion removes them). A
retained version has left the stack, which can no longer retag it, so versions carry no owner
tag (it would go stale); the owner tag lives on the containers.

Going back to an older release is a config change (`stableRelease`, `candidateTraffic: 0`; see
docs/rollout.md), never a git revert of `model_artifacts/` or the code: a revert declares a
version that still exists in the workspace, and azure-native refuses to create an existing
resource. docs/rollout.md gives the `pulumi import` that recovers from one.
"""

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import storage

from .config import StackConfig
from .tags import KEYS, tags
from .workspace import Workspace

ARTIFACTS = Path("model_artifacts")
MANIFEST = ARTIFACTS / "manifest.json"
SCORING = Path("scoring")
ENTRY_SCRIPT = "score.py"
REQUIREMENTS = SCORING / "requirements.txt"
DOCKERFILE = SCORING / "Dockerfile"
ENVIRONMENT = "churn-scoring-env"
CODE = "churn-scoring-code"
IMAGE_RECIPE = ("Dockerfile", "requirements.txt")


class AssetError(ValueError):
    pass


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digest(paths: Iterable[Path], base: Path = Path(".")) -> str:
    """One hash over file names (relative to `base`) and contents, independent of order and of
    timestamps."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(f"{path.relative_to(base).as_posix()}\0{file_sha256(path)}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Model:
    name: str
    version: str
    files: tuple[Path, ...]
    digest: str


def read_model(manifest_path: Path = MANIFEST) -> Model:
    """The manifest, checked against the files beside it."""
    if not manifest_path.is_file():
        raise AssetError(f"{manifest_path} is missing: run `make train` first")
    manifest = json.loads(manifest_path.read_text())
    files = [manifest_path]
    for file, expected in sorted(manifest["artifacts"].items()):
        path = manifest_path.parent / file
        if not path.is_file():
            raise AssetError(f"{path} is listed in {manifest_path} but missing")
        if file_sha256(path) != expected:
            raise AssetError(
                f"{path} does not match the sha256 recorded in {manifest_path}: "
                "retrain with `make train` instead of editing artifacts by hand"
            )
        files.append(path)
    return Model(
        name=manifest["name"],
        version=str(manifest["version"]),
        files=tuple(files),
        digest=tree_digest(files, manifest_path.parent),
    )


def code_files(folder: Path = SCORING) -> tuple[Path, ...]:
    """The entry script and the modules beside it (the image recipe is not code)."""
    if not (folder / ENTRY_SCRIPT).is_file():
        raise AssetError(f"{folder / ENTRY_SCRIPT} is missing: the service has no entry script")
    return tuple(
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.suffix != ".pyc"
        and p.name not in IMAGE_RECIPE
    )


def base_image(dockerfile: Path = DOCKERFILE) -> str:
    """The AzureML inference base image, named once: in the Dockerfile's BASE_IMAGE argument."""
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise AssetError(f"{dockerfile} has no `ARG BASE_IMAGE=<image>` line")
    return match.group(1)


def conda_file(requirements: Path = REQUIREMENTS) -> str:
    """A conda specification holding exactly the locked export the image installs."""
    pins = [
        line.strip()
        for line in requirements.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not pins:
        raise AssetError(f"{requirements} holds no requirement: run `make requirements`")
    lines = ["name: churn-scoring", "channels:", "  - conda-forge", "dependencies:"]
    lines += ["  - python=3.11", "  - pip", "  - pip:"]
    lines += [f"      - {json.dumps(pin)}" for pin in pins]
    return "\n".join(lines) + "\n"


def environment_digest(image: str | None = None, conda: str | None = None) -> str:
    """What the environment version is named after: the base image and the locked pins."""
    text = f"{image or base_image()}\n{conda or conda_file()}"
    return hashlib.sha256(text.encode()).hexdigest()


def code_digest() -> str:
    """What the code version is named after: every file of the entry script's folder."""
    return tree_digest(code_files(), SCORING)


def short(digest: str) -> str:
    return digest[:12]


# What never changes for a stack; the owner tag goes on the containers, which the stack keeps
# declaring, not on versions that may be retained outside it.
IMMUTABLE_TAGS = tuple(k for k in KEYS if k != "owner")


def version_tags(cfg: StackConfig, digest: str) -> dict[str, str]:
    common = tags(cfg)
    return {**{k: common[k] for k in IMMUTABLE_TAGS}, "sha256": digest}


class Assets(pulumi.ComponentResource):
    model_id: pulumi.Output[str]
    environment_id: pulumi.Output[str]
    code_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        workspace: Workspace,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("churn:ml:Assets", name, None, opts)
        common = tags(cfg)
        rg = workspace.resource_group_name
        ws = workspace.workspace_name
        # Kept in the workspace when Pulumi replaces or deletes them (see the module docstring).
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True)

        def upload(logical: str, path: Path, blob_name: str) -> storage.Blob:
            return storage.Blob(
                logical,
                resource_group_name=rg,
                account_name=workspace.storage_account.name,
                container_name=workspace.container.name,
                blob_name=blob_name,
                type=storage.BlobType.BLOCK,
                content_type="application/octet-stream",
                source=pulumi.FileAsset(path.as_posix()),
                opts=kept,
            )

        # The model: one folder holding the pipeline, the classifier and the manifest.
        model = read_model()
        model_folder = f"models/{model.name}/{model.version}/"
        model_blobs = [
            upload(f"{name}-model-{p.name}", p, model_folder + p.name) for p in model.files
        ]
        model_container = ml.ModelContainer(
            f"{name}-model",
            name=model.name,
            resource_group_name=rg,
            workspace_name=ws,
            properties=ml.ModelContainerPropertiesArgs(
                description="Bank churn: preprocessing pipeline and XGBoost classifier",
                tags=common,
            ),
            opts=kept,
        )
        self.model = ml.ModelVersion(
            f"{name}-model-version",
            name=model.name,
            version=model.version,
            resource_group_name=rg,
            workspace_name=ws,
            properties=ml.ModelVersionPropertiesArgs(
                model_type="custom_model",
                model_uri=workspace.datastore_uri(model_folder),
                description=f"{model.name} version {model.version} from manifest.json",
                tags=version_tags(cfg, model.digest),
            ),
            opts=kept.merge(
                pulumi.ResourceOptions(
                    depends_on=[model_container, workspace.datastore, *model_blobs]
                )
            ),
        )

        # The environment: the inference base image plus the locked serving pins.
        image = base_image()
        conda = conda_file()
        env_digest = environment_digest(image, conda)
        env_container = ml.EnvironmentContainer(
            f"{name}-environment",
            name=ENVIRONMENT,
            resource_group_name=rg,
            workspace_name=ws,
            properties=ml.EnvironmentContainerPropertiesArgs(
                description="AzureML inference base image with the locked serving pins",
                tags=common,
            ),
            opts=kept,
        )
        self.environment = ml.EnvironmentVersion(
            f"{name}-environment-version",
            name=ENVIRONMENT,
            version=short(env_digest),
            resource_group_name=rg,
            workspace_name=ws,
            properties=ml.EnvironmentVersionPropertiesArgs(
                image=image,
                conda_file=conda,
                os_type=ml.OperatingSystemType.LINUX,
                auto_rebuild=ml.AutoRebuildSetting.DISABLED,
                tags=version_tags(cfg, env_digest),
            ),
            opts=kept.merge(pulumi.ResourceOptions(depends_on=[env_container])),
        )

        # The code: the entry script folder.
        files = code_files()
        code_hash = code_digest()
        code_folder = f"code/{short(code_hash)}/"
        code_blobs = [
            upload(
                f"{name}-code-{p.relative_to(SCORING).as_posix().replace('/', '-')}",
                p,
                code_folder + p.relative_to(SCORING).as_posix(),
            )
            for p in files
        ]
        code_container = ml.CodeContainer(
            f"{name}-code",
            name=CODE,
            resource_group_name=rg,
            workspace_name=ws,
            properties=ml.CodeContainerPropertiesArgs(
                description="The AzureML entry script", tags=common
            ),
            opts=kept,
        )
        self.code = ml.CodeVersion(
            f"{name}-code-version",
            name=CODE,
            version=short(code_hash),
            resource_group_name=rg,
            workspace_name=ws,
            properties=ml.CodeVersionPropertiesArgs(
                code_uri=workspace.datastore_uri(code_folder),
                tags=version_tags(cfg, code_hash),
            ),
            opts=kept.merge(
                pulumi.ResourceOptions(
                    depends_on=[code_container, workspace.datastore, *code_blobs]
                )
            ),
        )

        self.model_id = self.model.id
        self.environment_id = self.environment.id
        self.code_id = self.code.id
        self.register_outputs(
            {"model": self.model.id, "environment": self.environment.id, "code": self.code.id}
        )
