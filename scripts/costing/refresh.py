"""SageMaker hosting prices from the AWS Price List API (pricing:GetProducts).

The Price List API answers in us-east-1 (and ap-south-1) for every region.
AmazonSageMaker products of family "ML Instance" carry `regionCode`,
`instanceName` (ml.g5.xlarge) and `component` (Hosting, Training, ...);
their OnDemand terms hold one price dimension in USD per hour ("Hrs").
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ruamel.yaml import YAML

from scripts.costing.prices import PriceBook
from scripts.lib.errors import UserError

SERVICE_CODE = "AmazonSageMaker"
PRICING_REGION = "us-east-1"
SOURCE = ("AWS Price List API (pricing:GetProducts, ServiceCode AmazonSageMaker, "
          "productFamily ML Instance, component Hosting, OnDemand)")


def filters(region: str, instance_type: str) -> list[dict]:
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in (
        ("productFamily", "ML Instance"), ("regionCode", region), ("instanceName", instance_type),
        ("component", "Hosting"))]


def _on_demand_hourly(product: dict) -> list[float]:
    prices = []
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = dimension.get("pricePerUnit", {}).get("USD")
            if usd is not None and dimension.get("unit", "").lower() in ("hrs", "hours", "hour") and float(usd) > 0:
                prices.append(float(usd))
    return prices


def hosting_price(client, region: str, instance_type: str) -> float | None:
    """On-demand USD per hour of `instance_type` hosting in `region`; None if the Price List has none."""
    found: dict[float, set[str]] = {}
    token = None
    while True:
        request = {"ServiceCode": SERVICE_CODE, "Filters": filters(region, instance_type), "FormatVersion": "aws_v1",
                   "MaxResults": 100}
        if token:
            request["NextToken"] = token
        response = client.get_products(**request)
        for item in response.get("PriceList", []):
            product = json.loads(item) if isinstance(item, str) else item
            attributes = product.get("product", {}).get("attributes", {})
            if attributes.get("instanceName", instance_type) != instance_type:
                continue
            for price in _on_demand_hourly(product):
                found.setdefault(price, set()).add(attributes.get("usagetype", "?"))
        token = response.get("NextToken")
        if not token:
            break
    if not found:
        return None
    if len(found) > 1:
        # Prefer the plain hosting usage type (<REGION>-Host:<instance>) over variants of it.
        plain = [p for p, usages in found.items() if any(u.endswith(f"-Host:{instance_type}") for u in usages)]
        if len(plain) == 1:
            return plain[0]
        listing = "; ".join(f"{p:g} ({', '.join(sorted(u))})" for p, u in sorted(found.items()))
        raise UserError(f"{instance_type} in {region}: the Price List has several on-demand hosting prices: {listing}; "
                        "fix: set the price by hand in the price file and say which usage type it is")
    return next(iter(found))


@dataclass
class RegionRefresh:
    region: str
    prices: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def refresh_region(client, region: str, instance_types: list[str]) -> RegionRefresh:
    result = RegionRefresh(region)
    for instance_type in instance_types:
        price = hosting_price(client, region, instance_type)
        if price is None:
            result.missing.append(instance_type)
        else:
            result.prices[instance_type] = price
    return result


def updated_text(path: Path, refreshed: list[RegionRefresh], today: date) -> str:
    """The price file with the refreshed regions replaced; comments and other blocks kept. Validated."""
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load(path.read_text(encoding="utf-8"))
    hosting = document.setdefault("sagemaker_hosting", {})
    for region in refreshed:
        if not region.prices:
            continue
        previous = hosting.get(region.region) or {}
        old = dict(previous.get("hourly") or {})
        kept = sorted(k for k in old if k not in region.prices)
        hourly = {**{k: old[k] for k in kept}, **region.prices}
        block = {"source": SOURCE, "basis": "price-list-api", "retrieved": today}
        if kept:
            block["note"] = (f"not in the Price List, kept from the previous block ({previous.get('basis')}"
                             f"{', ' + str(previous.get('retrieved')) if previous.get('retrieved') else ''}): "
                             f"{', '.join(kept)}")
        block["hourly"] = {k: hourly[k] for k in sorted(hourly, key=_size_order)}
        hosting[region.region] = block
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    text = buffer.getvalue()
    PriceBook.model_validate(_plain(YAML(typ="safe", pure=True).load(text)))
    return text


def _size_order(instance_type: str) -> tuple:
    family, size = instance_type.split(".")[1:3]
    number = size.removesuffix("xlarge") or "1"
    return (family, int(number) if number.isdigit() else 0, size)


def _plain(node):
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
