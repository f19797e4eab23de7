"""scripts/promotion/vpc_endpoints.py on moto's EC2 (no network): a network-isolated model in private
subnets needs S3 (gateway on the subnets' route tables), ECR and CloudWatch Logs endpoints, or a NAT route."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from scripts.promotion.vpc_endpoints import vpc_endpoint_problems

pytestmark = pytest.mark.slow  # full tier (make test): moto EC2 in-process

REGION = "us-east-1"


@pytest.fixture
def vpc(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        yield ec2, vpc_id, subnet, table


def test_private_subnets_without_endpoints_name_each_missing_service(vpc):
    ec2, vpc_id, subnet, _ = vpc
    problems = vpc_endpoint_problems(ec2, REGION, [subnet])
    assert [p.split(": ")[0] for p in problems] == [
        f"{vpc_id} has no VPC endpoint for com.amazonaws.{REGION}.{s}" for s in ("s3", "ecr.api", "ecr.dkr", "logs")]


def test_the_s3_gateway_must_be_on_the_subnets_route_table(vpc):
    ec2, vpc_id, subnet, table = vpc
    for service in ("ecr.api", "ecr.dkr", "logs"):
        ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=f"com.amazonaws.{REGION}.{service}",
                                VpcEndpointType="Interface", SubnetIds=[subnet])
    other = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    gateway = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=f"com.amazonaws.{REGION}.s3",
                                      VpcEndpointType="Gateway", RouteTableIds=[other])["VpcEndpoint"]
    assert vpc_endpoint_problems(ec2, REGION, [subnet]) == [
        f"the S3 gateway endpoint of {vpc_id} is not on the route table of {subnet}"]
    ec2.modify_vpc_endpoint(VpcEndpointId=gateway["VpcEndpointId"], AddRouteTableIds=[table])
    assert vpc_endpoint_problems(ec2, REGION, [subnet]) == []


def test_a_nat_route_reaches_everything(vpc):
    ec2, vpc_id, subnet, table = vpc
    public = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    assert vpc_endpoint_problems(ec2, REGION, [subnet]) == []


def test_an_endpoint_outside_a_vpc_needs_nothing():
    assert vpc_endpoint_problems(None, REGION, []) == []
