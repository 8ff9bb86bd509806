"""A release is what one online deployment runs: a model, a code and an environment version.

All three are AzureML asset versions that stay registered once created (they are retained on
delete), so a deployment can keep running an older release after the repository has moved on.
The repository declares one release (its `model_artifacts/` and `scoring/`); the stack's
`stableRelease` names the one serving most traffic.
"""

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import pulumi

FIELDS = ("model", "code", "environment")
# What the repository produces: the manifest's integer version, 12-hex content hashes.
PATTERNS = {"model": r"[0-9]{1,6}", "code": r"[0-9a-f]{12}", "environment": r"[0-9a-f]{12}"}
ALLOWED = 'an object {"model": "<1-6 digits>", "code": "<12 hex>", "environment": "<12 hex>"}'


class ReleaseError(ValueError):
    pass


@dataclass(frozen=True)
class Release:
    model: str
    code: str
    environment: str

    @property
    def deployment_name(self) -> str:
        """The deployment's name, read from its release: `m3-c1a2b3c4d-e5f6a7b8c`. AzureML allows
        3-32 characters, letters, digits and hyphens, starting with a letter."""
        return f"m{self.model}-c{self.code[:8]}-e{self.environment[:8]}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def parse(value: object) -> Release:
    """A release from config (a mapping of version strings); ReleaseError says what is wrong."""
    if not isinstance(value, Mapping) or set(value) != set(FIELDS):
        raise ReleaseError(f"expected {ALLOWED}")
    versions = {key: str(value[key]) for key in FIELDS}
    for key, version in versions.items():
        if not re.fullmatch(PATTERNS[key], version):
            raise ReleaseError(f"{key} version {version!r} does not match {PATTERNS[key]}")
    return Release(**versions)


def repository_release() -> Release:
    """The release the checked-out repository declares (the versions `Assets` registers)."""
    from . import assets  # assets reads the config module, which reads this one

    return Release(
        model=assets.read_model().version,
        code=assets.short(assets.code_digest()),
        environment=assets.short(assets.environment_digest()),
    )


@dataclass(frozen=True)
class AssetIds:
    model: pulumi.Output[str]
    code: pulumi.Output[str]
    environment: pulumi.Output[str]


def asset_ids(
    release: Release,
    model_name: str,
    subscription_id: pulumi.Input[str],
    resource_group: pulumi.Input[str],
    workspace: pulumi.Input[str],
) -> AssetIds:
    """The ARM ids of a release's asset versions, built from their names and versions: the same
    string for the repository's release and for an older one, so a deployment's declaration does
    not change when it stops being the repository's release."""
    from . import assets

    def version_id(kind: str, name: str, version: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "/subscriptions/", subscription_id, "/resourceGroups/", resource_group,
            "/providers/Microsoft.MachineLearningServices/workspaces/", workspace,
            f"/{kind}/{name}/versions/{version}",
        )  # fmt: skip

    return AssetIds(
        model=version_id("models", model_name, release.model),
        code=version_id("codes", assets.CODE, release.code),
        environment=version_id("environments", assets.ENVIRONMENT, release.environment),
    )


def traffic_split(
    stable: Release | None, repository: Release, candidate_traffic: int
) -> dict[Release, int]:
    """The percent of traffic each deployed release gets, stable first. One release at 100 when
    the stable release is the repository's; otherwise the stable one and the repository's (the
    candidate) share it as `candidateTraffic` says."""
    from .config import ConfigError

    if stable is None or stable == repository:
        if candidate_traffic:
            raise ConfigError(
                "candidateTraffic",
                candidate_traffic,
                "0 while stableRelease is the repository's release (there is no candidate; "
                "a promotion sets stableRelease and candidateTraffic: 0 together)",
            )
        return {repository: 100}
    return {stable: 100 - candidate_traffic, repository: candidate_traffic}
