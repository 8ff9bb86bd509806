"""The service key clients send as `Authorization: Bearer <key>`: generated, never typed in."""

import pulumi
import pulumi_random as random


def service_key(name: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    password = random.RandomPassword(
        f"{name}-key", length=48, special=False, opts=pulumi.ResourceOptions(parent=parent)
    )
    return pulumi.Output.secret(password.result)
