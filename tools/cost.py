"""Monthly list price of a stack at its configured sizes, from the Azure Retail Prices API.

    make cost STACK=dev                      # python -m tools.cost dev
    python -m tools.cost prod --quantities   # what is billed, offline, without prices

The sizes come from Pulumi.yaml and Pulumi.<stack>.yaml, read the way the program reads them. Each
billed meter is looked up in the stack's region through the public Retail Prices API (no sign-in):
pay-as-you-go list prices in USD, before discounts and taxes, for 730 hours a month. Items that
depend on traffic (log ingestion, egress, storage transactions) are listed apart, not priced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from dataclasses import dataclass

import requests

from infra import config
from infra.kubernetes import SYSTEM_POOL_NODES, SYSTEM_POOL_SIZE
from infra.testing import stack_config
from infra.tls import SIDECAR_CPU, SIDECAR_MEMORY_GB

API = os.environ.get("AZURE_RETAIL_PRICES_API", "https://prices.azure.com/api/retail/prices")
HOURS = 730
# unitOfMeasure strings of the API, as "how many of our units one priced unit covers"
UNITS = {
    "hour": {"1 Hour": 1, "1/Hour": 1, "1 Second": 1 / 3600, "100 Seconds": 1 / 36},
    "day": {"1/Day": 1, "1 Day": 1},
    "month": {"1/Month": 1, "1 Month": 1},
}
USAGE_DRIVEN = (
    "Log Analytics ingestion beyond the free allowance (request telemetry, container logs)",
    "storage capacity and transactions for a few MB of model artifacts",
    "key vault operations, internet egress",
)


class CostError(Exception):
    pass


@dataclass(frozen=True)
class Line:
    item: str
    quantity: float  # per month, in `unit`
    unit: str  # hour | day | month
    filter: str  # OData filter, without region and price type
    meter: str  # meterName to pick among the results


def lines(stack: str) -> tuple[str, list[Line]]:
    """The stack's region and the meters its default sizes are billed on."""
    project, raw = stack_config(stack)
    values = {key.removeprefix(f"{project}:"): value for key, value in raw.items()}
    cfg = config.load(config.Values(values), project, stack)  # the program's own checks
    billed = [
        Line("Container registry, Basic", HOURS / 24, "day",
             "serviceName eq 'Container Registry' and skuName eq 'Basic'", "Basic Registry Unit"),
    ]  # fmt: skip
    if cfg.target == "aci":
        # The scoring container and the TLS sidecar beside it.
        cpu, memory = cfg.aci_cpu + SIDECAR_CPU, cfg.aci_memory_gb + SIDECAR_MEMORY_GB
        billed += [
            Line(f"Container instance, {cpu:g} vCPU", cpu * HOURS, "hour",
                 "serviceName eq 'Container Instances'", "Standard vCPU Duration"),
            Line(f"Container instance, {memory:g} GB memory (GB-hours)", memory * HOURS, "hour",
                 "serviceName eq 'Container Instances'", "Standard Memory Duration"),
        ]  # fmt: skip
    else:
        nodes, size = cfg.aks_node_min, cfg.aks_node_size
        disks = nodes + SYSTEM_POOL_NODES
        billed += [
            Line(f"AKS nodes, {nodes} x {size} (Linux)", nodes * HOURS, "hour",
                 f"serviceName eq 'Virtual Machines' and armSkuName eq '{size}'",
                 size.removeprefix("Standard_").replace("_", " ")),
            Line(f"AKS system pool, {SYSTEM_POOL_NODES} x {SYSTEM_POOL_SIZE} (Linux)",
                 SYSTEM_POOL_NODES * HOURS, "hour",
                 f"serviceName eq 'Virtual Machines' and armSkuName eq '{SYSTEM_POOL_SIZE}'",
                 SYSTEM_POOL_SIZE.removeprefix("Standard_").replace("_", " ")),
            Line(f"OS disks, {disks} x P10 (128 GiB Premium SSD)", disks, "month",
                 "serviceName eq 'Storage' and skuName eq 'P10 LRS'", "P10 LRS Disk"),
            Line("Public IPs, 2 (cluster egress, inference router)", 2 * HOURS, "hour",
                 "serviceName eq 'Virtual Network' and productName eq 'IP Addresses'",
                 "Standard IPv4 Static Public IP"),
            Line("Standard load balancer, first 5 rules", HOURS, "hour",
                 "serviceName eq 'Load Balancer'", "Standard Included LB Rules and Outbound Rules"),
        ]  # fmt: skip
    return cfg.location, billed


def fetch(query: str, timeout: float = 30) -> list[dict]:
    """Every item of a Retail Prices API query, following NextPageLink."""
    url: str | None = API
    params: dict | None = {"$filter": query}
    found: list[dict] = []
    while url:
        try:
            response = requests.get(url, params=params, timeout=timeout)
            response.raise_for_status()
            page = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise CostError(f"the Retail Prices API did not answer {query!r}: {exc}") from exc
        found += page.get("Items", [])
        url, params = page.get("NextPageLink"), None
    return found


def unit_price(line: Line, region: str) -> float:
    """The one list price per `line.unit` for the line's meter in the region."""
    query = f"{line.filter} and armRegionName eq '{region}' and priceType eq 'Consumption'"
    candidates = [
        item for item in fetch(query)
        if item.get("meterName") == line.meter
        and not item.get("tierMinimumUnits")
        and "Windows" not in item.get("productName", "")
        and not any(word in item.get("skuName", "") for word in ("Spot", "Low Priority"))
    ]  # fmt: skip
    prices = {(item["retailPrice"], item.get("unitOfMeasure", "")) for item in candidates}
    if len(prices) != 1:
        raise CostError(f"{line.item}: expected one list price for {line.meter!r}, got {prices}")
    price, measure = prices.pop()
    per = UNITS[line.unit].get(measure)
    if per is None:
        raise CostError(f"{line.item}: priced per {measure!r}, expected a {line.unit} unit")
    return price / per


def report(stack: str, with_prices: bool = True) -> str:
    region, billed = lines(stack)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    head = f"Stack {stack}, region {region}, {HOURS} hours a month"
    out = [head + (f", USD list prices read {today} from {API}" if with_prices else "")]
    total = 0.0
    for line in billed:
        quantity = f"{line.quantity:g} {line.unit}s"
        if with_prices:
            price = unit_price(line, region)
            total += price * line.quantity
            out.append(
                f"  {line.item:<52} {quantity:>12} x {price:>9.4f} = {price * line.quantity:>9.2f}"
            )
        else:
            out.append(f"  {line.item:<52} {quantity:>12}")
    if with_prices:
        out.append(f"  {'total':<52} {'':>12}   {'':>9}   {total:>9.2f}")
    out.append("  not priced (traffic-driven): " + "; ".join(USAGE_DRIVEN))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("stack", choices=["dev", "prod"])
    parser.add_argument("--quantities", action="store_true", help="offline: what is billed only")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(report(args.stack, with_prices=not args.quantities))
    except (CostError, config.ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
