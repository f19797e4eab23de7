"""The price book (`pricing/prices.yaml`): SageMaker hosting per instance-hour, API prices per token.

Every block names its source and retrieval date: prices change, and a cost
figure is only as good as the snapshot it was computed from. Validated on
load; a bad file stops the command with one line naming file, field and fix.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, StringConstraints

from scripts.lib.errors import UserError
from config.fields import INSTANCE_TYPE, REGION, Strict
from config.loader import load_model

DEFAULT_FILE = Path("pricing") / "prices.yaml"

Region = Annotated[str, StringConstraints(pattern=REGION.pattern)]
InstanceType = Annotated[str, StringConstraints(pattern=INSTANCE_TYPE.pattern)]
ApiName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]*$")]


class HostingRegion(Strict):
    """On-demand SageMaker real-time inference (hosting) prices of one region, USD per instance-hour."""

    source: str = Field(min_length=1)
    retrieved: date
    basis: Literal["listed", "estimate"] = Field(
        description="listed: the provider's published figure; estimate: derived, refresh before relying on it")
    note: str | None = None
    hourly: dict[InstanceType, PositiveFloat] = Field(min_length=1)


class ApiPrice(Strict):
    """A hosted model's price in USD per million tokens."""

    provider: str = Field(min_length=1)
    source: str = Field(min_length=1)
    retrieved: date
    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)

    def per_call(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input_per_million + output_tokens * self.output_per_million) / 1_000_000


class PriceBook(Strict):
    schema_version: Literal[1] = 1
    currency: Literal["USD"] = "USD"
    sagemaker_hosting: dict[Region, HostingRegion] = Field(min_length=1)
    apis: dict[ApiName, ApiPrice] = Field(min_length=1)


class Prices:
    """A validated price book and the file it came from (for error lines)."""

    def __init__(self, book: PriceBook, display: str):
        self.book, self.display = book, display

    def region(self, region: str) -> HostingRegion:
        regional = self.book.sagemaker_hosting.get(region)
        if regional is None:
            raise UserError(f"{self.display}: sagemaker_hosting.{region}: no prices for this region; "
                            f"fix: python -m scripts prices-refresh --region {region}")
        return regional

    def hourly(self, region: str, instance_type: str) -> float:
        price = self.region(region).hourly.get(instance_type)
        if price is None:
            raise UserError(f"{self.display}: sagemaker_hosting.{region}.hourly.{instance_type}: no price; "
                            f"fix: python -m scripts prices-refresh --region {region} --instance-type {instance_type}")
        return price

    def api(self, name: str) -> ApiPrice:
        if name not in self.book.apis:
            raise UserError(f"--api: '{name}' is not in {self.display}; fix: use one of: "
                            f"{', '.join(sorted(self.book.apis))} (or add it under apis:)")
        return self.book.apis[name]


def load_prices(path: Path, display: str | None = None) -> Prices:
    display = display or str(path)
    loaded, errors = load_model(PriceBook, path, display)
    if errors:
        first = sorted(errors, key=lambda e: (e.line or 0, e.field))[0]
        # The loader's generic fixes point at the environment docs; prices are documented in docs/cost.md.
        first = str(replace(first, fix=first.fix.replace("docs/configuration.md", "docs/cost.md")))
        more = f" (and {len(errors) - 1} more problem(s) in this file)" if len(errors) > 1 else ""
        raise UserError(first + more)
    assert loaded is not None
    return Prices(loaded.value, display)
