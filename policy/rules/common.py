"""Rules over every resource kind: tags, protection of stateful resources, pinned images."""

from __future__ import annotations

from .base import (
    CONTAINER_GROUP,
    ML_ENVIRONMENT,
    ML_VERSIONS,
    REQUIRED_TAGS,
    STALE_TAGS,
    STATEFUL,
    TAGGED,
    TAGGED_IN_PROPERTIES,
    VERSION_TAGS,
    A,
    M,
    Resource,
    Rule,
    get,
    items,
    rule,
)


def tags_present(r: Resource) -> str | None:
    """Taggable resources carry the project, stack and owner tags (asset versions: project and
    stack)."""
    where = ("properties", "tags") if r.type in TAGGED_IN_PROPERTIES else ("tags",)
    found = get(r.props, *where)
    required = VERSION_TAGS if r.type in ML_VERSIONS else REQUIRED_TAGS
    missing = [t for t in required if not get(found, t)]
    if missing:
        return f"missing tag(s) {', '.join(missing)}"
    return None


def versions_without_owner_tag(r: Resource) -> str | None:
    """AzureML asset versions carry no owner tag: retained versions leave the stack, which can
    no longer retag them, so the tag would go stale."""
    found = [t for t in STALE_TAGS if get(get(r.props, "properties", "tags"), t) is not None]
    if found:
        return (
            f"tag(s) {', '.join(found)} would go stale on versions retained outside the stack; "
            "keep them on the asset's container"
        )
    return None


def stateful_protected(r: Resource) -> str | None:
    """Stateful resources are protected from deletion."""
    if not r.protect:
        return "stateful resource without `protect`: a stray destroy would lose it"
    return None


def image_references(r: Resource) -> list[str]:
    if r.type == CONTAINER_GROUP:
        return [str(get(c, "image") or "") for c in items(get(r.props, "containers"))]
    return [str(get(r.props, "properties", "image") or "")]


def images_pinned(r: Resource) -> str | None:
    """Container images are pinned by digest, never `latest` or a bare tag."""
    for image in image_references(r):
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" not in image:
            kind = "`latest`" if last.endswith(":latest") or ":" not in last else "a tag only"
            return f"image {image or '(unset)'} is pinned by {kind}; pin it by digest (@sha256:...)"
    return None


RULES: tuple[Rule, ...] = (
    rule("tags-required", M, "this project", TAGGED + TAGGED_IN_PROPERTIES, tags_present),
    rule("ml-versions-no-owner-tag", A, "this project (retained versions leave the stack)", ML_VERSIONS, versions_without_owner_tag),
    rule("stateful-resources-protected", M, "this project", STATEFUL, stateful_protected),
    rule("images-pinned-by-digest", M, "this project", (CONTAINER_GROUP, ML_ENVIRONMENT), images_pinned),
)  # fmt: skip
