"""The scoring image: `scoring/Dockerfile` built and pushed to the workspace registry."""

from pathlib import Path

import pulumi
import pulumi_docker_build as docker_build

from . import acr_login
from .assets import ARTIFACTS, DOCKERFILE, SCORING, short, tree_digest

REPOSITORY = "churn-scoring"
# The folders scoring/Dockerfile copies from; .dockerignore keeps everything else out, and drops
# __pycache__ inside them.
COPIED = (SCORING, ARTIFACTS)


def copied_files() -> list[Path]:
    return [
        path
        for folder in COPIED
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]


def image_digest() -> str:
    """Every file the Dockerfile copies (its own recipe included): the tag changes exactly when
    the image would."""
    return tree_digest(copied_files())


def _push_password(login_server: str) -> str:
    # Builds are skipped on preview, so a preview needs no credentials at all.
    if pulumi.runtime.is_dry_run():
        return ""
    return acr_login.refresh_token(login_server)


def scoring_image(
    name: str, login_server: pulumi.Input[str], parent: pulumi.Resource
) -> docker_build.Image:
    server = pulumi.Output.from_input(login_server)
    return docker_build.Image(
        name,
        tags=[pulumi.Output.concat(server, f"/{REPOSITORY}:{short(image_digest())}")],
        context=docker_build.BuildContextArgs(location="."),
        dockerfile=docker_build.DockerfileArgs(location=DOCKERFILE.as_posix()),
        platforms=[docker_build.Platform.LINUX_AMD64],
        push=True,
        build_on_preview=False,
        registries=[
            docker_build.RegistryArgs(
                address=server,
                username=acr_login.USERNAME,
                password=pulumi.Output.secret(server.apply(_push_password)),
            )
        ],
        opts=pulumi.ResourceOptions(parent=parent),
    )
