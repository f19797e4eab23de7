"""The price book (`pricing/prices.yaml`): SageMaker hosting per instance-hour, API prices per token.

Every block names its source and says what its figures are (`basis`): prices change, and a
cost figure is only as good as the snapshot it was computed from.

- `price-list-api`: fetched by `prices-refresh` from the AWS Price List API on `retrieved`;
- `unverified`: typed in by hand from a published page, never fetched or checked on a date
  (no `retrieved`: there is no retrieval to date);
- `estimate`: derived from other figures (the `source` says how);
- API prices: `unverified`, or `checked` by a person against the provider's page on `checked`.

Validated on load; a bad file stops the command with one line naming file, field and fix.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, StringConstraints, model_validator

from scripts.lib.errors import UserError
from config.errors import Invalid
from config.fields import INSTANCE_TYPE, REGION, Strict
from config.loader import load_model

DEFAULT_FILE = Path("pricing") / "prices.yaml"

Region = Annotated[str, StringConstraints(pattern=REGION.pattern)]
InstanceType = Annotated[str, StringConstraints(pattern=INSTANCE_TYPE.pattern)]
ApiName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]*$")]


class HostingRegion(Strict):
    """On-demand SageMaker real-time inference (hosting) prices of one region, USD per instance-hour."""

    source: str = Field(min_length=1)
    basis: Literal["price-list-api", "unverified", "estimate"] = Field(
        description="price-list-api: fetched by prices-refresh; unverified: typed in by hand; estimate: derived")
    retrieved: date | None = Field(default=None, description="when prices-refresh fetched them (price-list-api only)")
    note: str | None = None
    hourly: dict[InstanceType, PositiveFloat] = Field(min_length=1)

    @model_validator(mode="after")
    def _dated_only_when_fetched(self) -> "HostingRegion":
        if self.basis == "price-list-api" and self.retrieved is None:
            raise Invalid("basis price-list-api without 'retrieved'", "run python -m scripts prices-refresh",
                          "retrieved")
        if self.basis != "price-list-api" and self.retrieved is not None:
            raise Invalid(f"'retrieved' on {self.basis} figures: only prices-refresh retrieves",
                          "drop 'retrieved' (say in 'source' where the figures came from) or run prices-refresh",
                          "retrieved")
        return self

    @property
    def described(self) -> str:
        if self.basis == "price-list-api":
            return f"fetched from the AWS Price List API on {self.retrieved}"
        return "typed in by hand, not fetched" if self.basis == "unverified" else "estimated, not listed"


class ApiPrice(Strict):
    """A hosted model's price in USD per million tokens."""

    provider: str = Field(min_length=1)
    source: str = Field(min_length=1)
    basis: Literal["unverified", "checked"] = Field(
        description="unverified: typed in by hand; checked: compared with the provider's page on `checked`")
    checked: date | None = None
    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)

    @model_validator(mode="after")
    def _checked_has_a_date(self) -> "ApiPrice":
        if (self.basis == "checked") != (self.checked is not None):
            raise Invalid("basis 'checked' and a 'checked' date go together",
                          "write basis: checked with checked: <date you compared the page>, or basis: unverified "
                          "without a date", "checked")
        return self

    @property
    def described(self) -> str:
        return f"checked against the provider's page on {self.checked}" if self.checked else \
            "typed in by hand, not checked"

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
