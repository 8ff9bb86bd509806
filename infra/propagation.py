"""A bounded wait between role assignments and what relies on them.

ARM answers a role assignment's PUT before every authorisation cache has it: a container group
that pulls with a just-assigned AcrPull, or a datastore checked with a just-assigned blob reader,
can be refused for a while ("Troubleshoot Azure RBAC", Microsoft Learn: "it can take up to 10
minutes for changes to take effect"; the documented remedy is to wait and retry). A `time.Sleep` after the assignments,
on which the consumer depends, makes a first `pulumi up` wait once instead of failing; it waits
again only when an assignment is replaced (its id is a trigger), never on an unchanged update.
"""

from collections.abc import Sequence

import pulumi
import pulumiverse_time as time
from pulumi_azure_native import authorization

ROLE_PROPAGATION = "120s"


def after_roles(
    name: str, assignments: Sequence[authorization.RoleAssignment], parent: pulumi.Resource
) -> time.Sleep:
    return time.Sleep(
        name,
        create_duration=ROLE_PROPAGATION,
        triggers={f"assignment{i}": a.id for i, a in enumerate(assignments)},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(assignments)),
    )
