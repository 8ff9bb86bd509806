"""How scoring endpoints face the network: public ones serve TLS only (docs/tls.md)."""

from __future__ import annotations

from typing import Any

from .base import CONTAINER_GROUP, EXTENSION, M, Resource, Rule, get, items, rule


def _setting(settings: Any, key: str) -> str:
    return str(get(settings, key) or "").lower()


def public_endpoints_tls(r: Resource) -> str | None:
    """A public scoring endpoint serves TLS only: a container group exposes only 80 and 443, a
    public inference router has a certificate and refuses plain HTTP."""
    if r.type == CONTAINER_GROUP and get(r.props, "ipAddress", "type") == "Public":
        ports = {get(p, "port") for p in items(get(r.props, "ipAddress", "ports"))}
        # 80 may stay open for the ACME HTTP challenge and the redirect to 443.
        if plain := sorted(str(p) for p in ports - {80, 443}):
            return f"public port(s) {', '.join(plain)} serve plain HTTP; expose 443 through TLS"
    if r.type == EXTENSION and get(r.props, "extensionType") == "Microsoft.AzureML.Kubernetes":
        settings = get(r.props, "configurationSettings") or {}
        public = _setting(settings, "inferenceRouterServiceType") == "loadbalancer"
        public = public and _setting(settings, "internalLoadBalancerProvider") != "azure"
        insecure = _setting(settings, "allowInsecureConnections") == "true"
        if public and (insecure or not _setting(settings, "sslCname")):
            return (
                "the inference router is on a public load balancer without TLS; set sslCname "
                "with a certificate, or use an internal load balancer"
            )
    return None


PUBLIC_ENDPOINTS_TLS = rule(
    "public-endpoints-tls", M, "this project", (CONTAINER_GROUP, EXTENSION), public_endpoints_tls
)
RULES: tuple[Rule, ...] = (PUBLIC_ENDPOINTS_TLS,)
