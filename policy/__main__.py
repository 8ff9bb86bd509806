"""The churn-scoring policy pack: every rule of the rules package, enforced at its level, minus the
waivers of waivers.py on the stacks they name.

Run it with `pulumi preview --policy-pack policy` from the repository root.
"""

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from rules import RULES, Resource, Rule
from waivers import stack_of, waiver


def to_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        message = rule.check(Resource(args.resource_type, args.props, bool(args.opts.protect)))
        if message is None:
            return
        reason = waiver(rule.name, stack_of(args.urn))
        if reason:
            args.not_applicable(f"waived on stack {stack_of(args.urn)}: {reason} ({message})")
        report_violation(message)

    level = EnforcementLevel.MANDATORY if rule.mandatory else EnforcementLevel.ADVISORY
    return ResourceValidationPolicy(
        name=rule.name,
        description=f"{rule.description} [{rule.source}]",
        enforcement_level=level,
        validate=validate,
    )


PolicyPack(name="churn-scoring", policies=[to_policy(rule) for rule in RULES])
