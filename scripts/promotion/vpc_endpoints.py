"""Can an endpoint in private subnets reach what SageMaker loads for it? (for `status`; the lead wires it)

A model in a VPC (`network.subnet_ids`) has its ENIs there; with network isolation the container
reaches nothing, but SageMaker still pulls the image from ECR (the `ecr.api` and `ecr.dkr`
endpoints, and S3 for the layers) and copies the weights from S3 through those subnets, and the
container's logs go to CloudWatch Logs ("Give SageMaker AI Hosted Endpoints Access to Resources in
Your Amazon VPC"; "Connect to SageMaker AI Within your VPC"). Without a NAT route, each needs a VPC
endpoint: S3 as a gateway endpoint on the subnets' route tables (or an interface endpoint), the
others as interface endpoints. Only real AWS shows DNS and security-group reachability.

    problems = vpc_endpoint_problems(client("ec2", region), region, endpoint.network.subnet_ids)
"""

from __future__ import annotations

from typing import Any

NEEDED = {"s3": "S3 (the weights; the image layers)", "ecr.api": "ECR API (the image manifest)",
          "ecr.dkr": "ECR registry (the image pull)", "logs": "CloudWatch Logs (the container's logs)"}


def vpc_endpoint_problems(ec2: Any, region: str, subnet_ids: list[str]) -> list[str]:
    """One line per service the subnets cannot reach: no NAT route and no VPC endpoint for it."""
    if not subnet_ids:
        return []
    subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    vpc = subnets[0]["VpcId"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    table_of = {subnet: _table_of(tables, subnet) for subnet in subnet_ids}
    if all(t and any(r.get("NatGatewayId") and r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in t["Routes"])
           for t in table_of.values()):
        return []  # every subnet reaches AWS's public endpoints through a NAT gateway
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    live = [e for e in endpoints if str(e.get("State", "available")).lower() == "available"]
    problems = []
    for service, what in NEEDED.items():
        name = f"com.amazonaws.{region}.{service}"
        found = [e for e in live if e["ServiceName"] == name]
        if not found:
            problems.append(f"{vpc} has no VPC endpoint for {name}: {what} is out of reach from "
                            f"{', '.join(subnet_ids)}")
            continue
        if service == "s3" and all(e.get("VpcEndpointType", "Gateway") == "Gateway" for e in found):
            routed = {t for e in found for t in e.get("RouteTableIds", [])}
            missing = [s for s, t in table_of.items() if not t or t["RouteTableId"] not in routed]
            if missing:
                problems.append(f"the S3 gateway endpoint of {vpc} is not on the route table of {', '.join(missing)}")
    return problems


def _table_of(tables: list[dict], subnet: str) -> dict | None:
    """The subnet's route table: its own association, else the VPC's main table."""
    for table in tables:
        if any(a.get("SubnetId") == subnet for a in table.get("Associations", [])):
            return table
    return next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
