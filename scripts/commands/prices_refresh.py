"""`prices-refresh`: SageMaker hosting prices in the price file, from the AWS Price List API."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from scripts.costing.prices import DEFAULT_FILE, load_prices
from scripts.costing.refresh import PRICING_REGION, refresh_region, updated_text
from scripts.lib import aws
from scripts.lib.errors import CheckFailed, UserError
from scripts.lib.output import Output
from scripts.lib.repo import repo_root
from config.catalog import G5_TYPES
from config.fields import INSTANCE_TYPE, REGION
from config.manifest_io import write_atomic



@click.command("prices-refresh")
@click.option("--region", "regions", multiple=True,
              help="Region to refresh (repeatable; default: every region already in the price file).")
@click.option("--instance-type", "instance_types", multiple=True,
              help="Instance type to look up (repeatable; default: every ml.g5 type and those already listed).")
@click.option("--prices", "prices_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help=f"Price file to update (default: {DEFAULT_FILE}).")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(regions: tuple[str, ...], instance_types: tuple[str, ...], prices_file: Path | None,
            json_mode: bool | None) -> None:
    """Look up on-demand SageMaker hosting prices (pricing:GetProducts, us-east-1 endpoint) and rewrite
    the price file's sagemaker_hosting blocks with source and date, atomically. API prices are kept.
    Needs AWS credentials allowed pricing:GetProducts."""
    path = prices_file or repo_root() / DEFAULT_FILE
    try:
        display = str(path.resolve().relative_to(repo_root()))
    except ValueError:
        display = str(path)
    book = load_prices(path, display).book  # refuse to build on a broken file
    for region in regions:
        if not REGION.match(region):
            raise UserError(f"--region: '{region}' is not a region code; fix: write e.g. --region eu-west-1")
    for instance_type in instance_types:
        if not INSTANCE_TYPE.match(instance_type):
            raise UserError(f"--instance-type: '{instance_type}' is not a SageMaker instance type; "
                            "fix: write e.g. --instance-type ml.g5.2xlarge")
    targets = list(regions) or sorted(book.sagemaker_hosting)
    out = Output(json_mode)
    client = aws.client("pricing", PRICING_REGION)
    refreshed = []
    rows = []
    for region in targets:
        listed = book.sagemaker_hosting.get(region)
        types = list(instance_types) or sorted({i.name for i in G5_TYPES} | set(listed.hourly if listed else ()))
        out.event("query", f"{region}: looking up {len(types)} instance type(s) in the Price List …",
                  region=region, instance_types=types)
        result = refresh_region(client, region, types)
        refreshed.append(result)
        for instance_type in types:
            old = listed.hourly.get(instance_type) if listed else None
            new = result.prices.get(instance_type)
            change = "-" if old is None or new is None else f"{(new - old) / old * 100:+.1f}%"
            rows.append([region, instance_type, "-" if old is None else f"${old:g}",
                         "not found" if new is None else f"${new:g}", change])
    out.table("SageMaker hosting, on-demand USD per hour", ["region", "instance", "before", "now", "change"], rows)
    if not any(r.prices for r in refreshed):
        raise CheckFailed(f"the Price List returned no hosting price for {', '.join(targets)}; {display} is unchanged")
    for result in refreshed:
        if result.missing:
            out.event("warning", f"warning: {result.region}: no price found for {', '.join(result.missing)}"
                      + ("; kept the previous figures" if result.prices else "; region left unchanged"),
                      region=result.region, missing=result.missing)
    write_atomic(path, updated_text(path, refreshed, date.today()))
    out.event("written", f"{display} updated ({sum(len(r.prices) for r in refreshed)} price(s), retrieved "
              f"{date.today()})", file=display, regions=[r.region for r in refreshed if r.prices])
    out.result({"file": display, "retrieved": date.today(),
                "prices": {r.region: r.prices for r in refreshed}, "missing": {r.region: r.missing for r in refreshed}})
