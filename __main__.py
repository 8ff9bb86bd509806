"""churn-scoring: the AzureML workspace, the registered model and one scoring target per stack."""

import pulumi

from infra import config, outputs, release
from infra.aci import AciTarget
from infra.assets import Assets
from infra.kubernetes import KubernetesCompute
from infra.online import OnlineService
from infra.workspace import Workspace

cfg = config.load()
repository = release.repository_release()
split = release.traffic_split(cfg.stable_release, repository, cfg.candidate_traffic)
workspace = Workspace(cfg.name_prefix, cfg)
assets = Assets(cfg.name_prefix, cfg, workspace)
if cfg.target == "aci":
    target = AciTarget(cfg.name_prefix, cfg, workspace)
else:
    compute = KubernetesCompute(cfg.name_prefix, cfg, workspace)
    target = OnlineService(cfg.name_prefix, cfg, workspace, assets, compute.compute_id, split)

pulumi.export(outputs.SCORING_URI, target.scoring_uri)
pulumi.export(outputs.SWAGGER_URI, target.swagger_uri)
pulumi.export(outputs.SCORING_KEY, target.key)
pulumi.export(outputs.WORKSPACE, workspace.workspace_name)
pulumi.export(outputs.RESOURCE_GROUP, workspace.resource_group_name)
pulumi.export(outputs.TARGET, cfg.target)
pulumi.export(outputs.RELEASE, repository.as_dict())
pulumi.export(outputs.CAPTURES, target.captures_location)
