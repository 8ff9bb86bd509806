"""Dev waivers, all in this one place: mandatory rules that a stack may break, and why.

A waived rule still runs; on that stack its violation is reported as "not applicable" with the
reason below instead of failing the preview. Prod has no waivers. Tests check that every waiver
names a mandatory rule and that dev breaks exactly these rules, so a stale waiver fails CI.
"""

WAIVERS: dict[str, dict[str, str]] = {
    "dev": {
        "keyvault-purge-protection": (
            "dev is destroyed and rebuilt often; purge protection cannot be turned off again "
            "and would keep each deleted vault for its whole retention period"
        ),
        "stateful-resources-protected": (
            "dev must be destroyable in one `pulumi destroy`; its data is rebuilt from the repo"
        ),
        "log-retention-90-days": "dev logs serve debugging only; 30 days is the included retention",
    },
}


def stack_of(urn: str) -> str:
    """The stack name in a resource URN: urn:pulumi:<stack>::<project>::<type>::<name>."""
    head = urn.split("::", 1)[0]
    return head.removeprefix("urn:pulumi:")


def waiver(rule_name: str, stack: str) -> str | None:
    """Why `rule_name` is waived on `stack`, or None when it is enforced there."""
    return WAIVERS.get(stack, {}).get(rule_name)
