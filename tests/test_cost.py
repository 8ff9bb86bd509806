"""The monthly cost report against a local stand-in for the Retail Prices API (canned pages)."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from tests.stubhttp import StubHandler, stub_server
from tools import cost

ITEMS = {
    "Container Registry": [
        {"meterName": "Basic Registry Unit", "retailPrice": 0.1666, "unitOfMeasure": "1/Day",
         "productName": "Container Registry", "skuName": "Basic"},
    ],
    "Container Instances": [
        {"meterName": "Standard vCPU Duration", "retailPrice": 0.04, "unitOfMeasure": "1 Hour",
         "productName": "Container Instances", "skuName": "Standard"},
        {"meterName": "Standard Memory Duration", "retailPrice": 0.005, "unitOfMeasure": "1 Hour",
         "productName": "Container Instances", "skuName": "Standard"},
        {"meterName": "Standard vCPU Duration", "retailPrice": 0.09, "unitOfMeasure": "1 Hour",
         "productName": "Container Instances Windows", "skuName": "Standard"},
    ],
    "Virtual Machines": [
        {"meterName": "D4s v5", "retailPrice": 0.2, "unitOfMeasure": "1 Hour",
         "productName": "Virtual Machines Dsv5 Series", "skuName": "D4s v5"},
        {"meterName": "D2s v5", "retailPrice": 0.1, "unitOfMeasure": "1 Hour",
         "productName": "Virtual Machines Dsv5 Series", "skuName": "D2s v5"},
        {"meterName": "D4s v5", "retailPrice": 0.4, "unitOfMeasure": "1 Hour",
         "productName": "Virtual Machines Dsv5 Series Windows", "skuName": "D4s v5"},
        {"meterName": "D4s v5 Spot", "retailPrice": 0.05, "unitOfMeasure": "1 Hour",
         "productName": "Virtual Machines Dsv5 Series", "skuName": "D4s v5 Spot"},
    ],
    "Storage": [
        {"meterName": "P10 LRS Disk", "retailPrice": 20.0, "unitOfMeasure": "1/Month",
         "productName": "Premium SSD Managed Disks", "skuName": "P10 LRS"},
    ],
    "Virtual Network": [
        {"meterName": "Standard IPv4 Static Public IP", "retailPrice": 0.005,
         "unitOfMeasure": "1 Hour", "productName": "IP Addresses", "skuName": "Standard"},
    ],
    "Load Balancer": [
        {"meterName": "Standard Included LB Rules and Outbound Rules", "retailPrice": 0.025,
         "unitOfMeasure": "1 Hour", "productName": "Load Balancer", "skuName": "Standard"},
    ],
}  # fmt: skip


class PriceApi(StubHandler):
    """Answers by serviceName; every answer comes in two pages to exercise NextPageLink."""

    queries: ClassVar[list[str]] = []
    overrides: ClassVar[dict[str, list[dict]]] = {}

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/page2":
            return self.send_json(
                200, {"Items": self.overrides.get("page2", [])[1:], "NextPageLink": None}
            )
        query = parse_qs(url.query)["$filter"][0]
        self.queries.append(query)
        service = query.split("serviceName eq '")[1].split("'")[0]
        items = self.overrides.get(service, ITEMS[service])
        self.overrides["page2"] = items
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.send_json(200, {"Items": items[:1], "NextPageLink": f"{base}/page2"})


@pytest.fixture
def api(monkeypatch):
    with stub_server(PriceApi) as url:
        monkeypatch.setattr(cost, "API", f"{url}/prices")
        PriceApi.queries.clear()
        PriceApi.overrides.clear()
        yield PriceApi


def total(text: str) -> float:
    line = next(line for line in text.splitlines() if line.strip().startswith("total"))
    return float(line.split()[-1])


def test_dev_is_registry_plus_one_vcpu_and_one_gb_around_the_clock(api):
    text = cost.report("dev")
    # 1 vCPU and 1 GB for scoring, 0.25 vCPU and 0.5 GB for the TLS sidecar.
    container = 1.25 * 0.04 * 730 + 1.5 * 0.005 * 730
    assert total(text) == pytest.approx(0.1666 * 730 / 24 + container, abs=0.01)
    assert "region westeurope" in text and "USD list prices read" in text
    assert all("armRegionName eq 'westeurope'" in q for q in api.queries)
    assert all("priceType eq 'Consumption'" in q for q in api.queries)


def test_prod_prices_linux_pay_as_you_go_nodes_at_the_autoscaler_minimum(api):
    text = cost.report("prod")
    nodes = 2  # aksNodeMin's default in Pulumi.yaml
    system = 0.1 * 730 + 20.0  # the fixed one-node system pool and its disk
    expected = (
        0.1666 * 730 / 24 + nodes * (0.2 * 730 + 20.0) + system + 2 * 0.005 * 730 + 0.025 * 730
    )
    assert total(text) == pytest.approx(expected, abs=0.01)
    assert "2 x Standard_D4s_v5" in text


def test_quantities_need_no_network():
    text = cost.report("prod", with_prices=False)
    assert "1460 hours" in text and "total" not in text


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "expected one list price for 'Basic Registry Unit', got set()"),
        (
            [
                {"meterName": "Basic Registry Unit", "retailPrice": 0.1, "unitOfMeasure": "1/Day"},
                {"meterName": "Basic Registry Unit", "retailPrice": 0.2, "unitOfMeasure": "1/Day"},
            ],
            "expected one list price",
        ),
        (
            [{"meterName": "Basic Registry Unit", "retailPrice": 5, "unitOfMeasure": "1 GB/Month"}],
            "priced per '1 GB/Month', expected a day unit",
        ),
    ],
)
def test_missing_ambiguous_or_odd_prices_stop_with_a_sentence(api, capsys, items, message):
    api.overrides["Container Registry"] = items
    assert cost.main(["dev"]) == 1
    assert message in capsys.readouterr().err


def test_stack_values_get_the_programs_checks(monkeypatch, capsys):
    project, values = cost.stack_config("dev")
    values[f"{project}:aciCpu"] = "lots"
    monkeypatch.setattr(cost, "stack_config", lambda stack: (project, values))
    assert cost.main(["dev", "--quantities"]) == 1
    assert "config key 'aciCpu' is 'lots'; allowed: a number from" in capsys.readouterr().err
