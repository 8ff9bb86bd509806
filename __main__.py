"""churn-scoring: the AzureML workspace, the registered model and one scoring target per stack."""

import pulumi

from infra import config, outputs
from infra.aci import AciTarget
from infra.aks import AksTarget
from infra.assets import Assets
from infra.workspace import Workspace

cfg = config.load()
workspace = Workspace(cfg.name_prefix, cfg)
assets = Assets(cfg.name_prefix, cfg, workspace)
target = (
    AciTarget(cfg.name_prefix, cfg, workspace)
    if cfg.target == "aci"
    else AksTarget(cfg.name_prefix, cfg, workspace, assets)
)

pulumi.export(outputs.SCORING_URI, target.scoring_uri)
pulumi.export(outputs.SWAGGER_URI, target.swagger_uri)
pulumi.export(outputs.SCORING_KEY, target.key)
pulumi.export(outputs.WORKSPACE, workspace.workspace_name)
pulumi.export(outputs.RESOURCE_GROUP, workspace.resource_group_name)
pulumi.export(outputs.TARGET, cfg.target)
