"""CloudFormation handlers for the types of our stacks that moto's CloudFormation skips or
lacks: CloudWatch alarms, SageMaker model package groups and packages, S3 bucket policies,
Application Auto Scaling targets (with scheduled actions) and policies, SNS topic policies
and subscriptions. `moto_patches/cloudformation.py` answers `HANDLERS` for these types;
moto's own CloudFormation types with a defect are patched in `moto_patches/` instead.

Each handler is duck-typed to moto's CloudFormationModel, so that it does not join moto's
model registry after the emulator stops.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

from localaws.moto_backends import autoscaling_backend


class _CfnAlarm:
    """AWS::CloudWatch::Alarm for moto's CloudFormation (duck-typed CloudFormationModel,
    so that it does not join moto's model registry after the emulator stops)."""

    def __init__(self, name: str, account_id: str, region_name: str) -> None:
        self.name, self.account_id, self.region_name = name, account_id, region_name

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def is_created(self) -> bool:
        return True

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region_name}:{self.account_id}:alarm:{self.name}"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.cloudwatch.models import cloudwatch_backends

        p = cloudformation_json["Properties"]
        name = p.get("AlarmName") or resource_name
        queries = None
        if p.get("Metrics"):
            from moto.cloudwatch.models import (
                Dimension,
                Metric,
                MetricDataQuery,
                MetricStat,
            )

            queries = []
            for m in p["Metrics"]:
                stat, ms = None, m.get("MetricStat")
                if ms:
                    metric = ms["Metric"]
                    dims = [Dimension(name=d["Name"], value=d["Value"]) for d in metric.get("Dimensions", [])]
                    stat = MetricStat(metric=Metric(metric_name=metric["MetricName"], namespace=metric.get("Namespace"),
                                                    dimensions=dims),
                                      period=ms.get("Period"), stat=ms.get("Stat"), unit=ms.get("Unit"))
                queries.append(MetricDataQuery(query_id=m["Id"], label=m.get("Label"), period=m.get("Period"),
                                               return_data=m.get("ReturnData"), expression=m.get("Expression"),
                                               metric_stat=stat))
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name, namespace=p.get("Namespace"), metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"], evaluation_periods=int(p["EvaluationPeriods"]),
            period=p.get("Period"), threshold=p.get("Threshold"), statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"), dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []), metric_data_queries=queries,
            datapoints_to_alarm=p.get("DatapointsToAlarm"), extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions", []), insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"), actions_enabled=p.get("ActionsEnabled", True),
            treat_missing_data=p.get("TreatMissingData"), threshold_metric_id=p.get("ThresholdMetricId"),
            rule=None, tags=p.get("Tags", []),
        )
        return cls(name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        if new.name != original_resource.name:
            cls.delete_from_cloudformation_json(original_resource.name, cloudformation_json, account_id, region_name)
        return new

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])


class _CfnResource:
    """What moto's CloudFormation asks of a resource (duck-typed CloudFormationModel)."""

    cfn_attrs: ClassVar[dict[str, str]] = {}

    def __init__(self, physical_id: str, attrs: dict[str, str]) -> None:
        self._physical_id, self._attrs = physical_id, attrs

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    def is_created(self) -> bool:
        return True

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.cfn_attrs

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self._attrs[attribute_name]

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    # Defaults for "put"-style resources: an update writes the new properties again,
    # a delete has nothing to undo. Resources with real state override both.
    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass


class _CfnModelPackageGroup(_CfnResource):
    """AWS::SageMaker::ModelPackageGroup (moto has the API, not the CloudFormation type)."""

    cfn_attrs: ClassVar[dict[str, str]] = {"ModelPackageGroupArn": ""}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::ModelPackageGroup"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.sagemaker.models import sagemaker_backends

        p = cloudformation_json["Properties"]
        name = p.get("ModelPackageGroupName") or resource_name
        backend = sagemaker_backends[account_id][region_name]
        group = backend.model_package_groups.get(name)
        if group is not None:  # made early by a package created before it (see below)
            group.model_package_group_description = p.get("ModelPackageGroupDescription")
            return cls(group.arn, {"ModelPackageGroupArn": group.arn})
        arn = backend.create_model_package_group(name, p.get("ModelPackageGroupDescription"), p.get("Tags"))
        return cls(arn, {"ModelPackageGroupArn": arn})

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        return original_resource  # descriptions and tags only: not modelled

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.sagemaker.models import sagemaker_backends

        sagemaker_backends[account_id][region_name].model_package_groups.pop(resource_name.split("/")[-1], None)


class _CfnModelPackage(_CfnResource):
    """AWS::SageMaker::ModelPackage: a versioned package in its group (created in template
    order, so versions number as in AWS when packages are added one stack update at a
    time); an update changes approval status, description and metadata in place."""

    cfn_attrs: ClassVar[dict[str, str]] = {"ModelPackageArn": "", "ModelPackageStatus": ""}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::ModelPackage"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[account_id][region_name]
        p = cloudformation_json["Properties"]
        group = p.get("ModelPackageGroupName")
        if group and group not in backend.model_package_groups:
            # moto's CloudFormation ignores DependsOn, and the group is named by a literal:
            # the package may come first. Make the group; its own resource adopts it.
            backend.create_model_package_group(group, None, None)
        arn = backend.create_model_package(
            model_package_name=None if p.get("ModelPackageGroupName") else (p.get("ModelPackageName") or resource_name),
            model_package_group_name=p.get("ModelPackageGroupName"),
            model_package_description=p.get("ModelPackageDescription"),
            inference_specification=p.get("InferenceSpecification"), validation_specification=None,
            source_algorithm_specification=None, certify_for_marketplace=False, tags=p.get("Tags"),
            model_approval_status=p.get("ModelApprovalStatus"), metadata_properties=p.get("MetadataProperties"),
            model_metrics=p.get("ModelMetrics"), client_token=None,
            customer_metadata_properties=p.get("CustomerMetadataProperties"), drift_check_baselines=None,
            domain=p.get("Domain"), task=p.get("Task"), sample_payload_url=p.get("SamplePayloadUrl"),
            additional_inference_specifications=None)
        package = backend.model_packages[arn]
        package.approval_description = p.get("ApprovalDescription")
        return cls(arn, {"ModelPackageArn": arn, "ModelPackageStatus": "Completed"})

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        from moto.sagemaker.models import sagemaker_backends

        p = cloudformation_json["Properties"]
        package = sagemaker_backends[account_id][region_name].model_packages.get(original_resource.physical_resource_id)
        if package is not None:
            if p.get("ModelApprovalStatus"):
                package.set_model_approval_status(p["ModelApprovalStatus"])
            package.approval_description = p.get("ApprovalDescription")
            package.model_package_description = p.get("ModelPackageDescription")
            package.customer_metadata_properties = p.get("CustomerMetadataProperties")
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[account_id][region_name]
        backend.model_packages.pop(resource_name, None)
        for name, arn in list(backend.model_package_name_mapping.items()):
            if arn == resource_name:
                del backend.model_package_name_mapping[name]


class _CfnBucketPolicy(_CfnResource):
    """AWS::S3::BucketPolicy: PutBucketPolicy (moto's CloudFormation skips the type), minus
    statements on aws:SecureTransport or s3:TlsVersion: the emulator speaks plain HTTP on loopback, and
    moto enforces bucket policies, so the CDK bootstrap bucket's deny-non-TLS statement
    would refuse every asset upload."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        import json

        from moto.s3.models import s3_backends

        p = cloudformation_json["Properties"]
        document = dict(p["PolicyDocument"])
        document["Statement"] = [st for st in document.get("Statement", [])
                                 if not any(key in json.dumps(st.get("Condition", {}))
                                            for key in ("aws:SecureTransport", "s3:TlsVersion"))]
        s3_backends[account_id]["aws"].put_bucket_policy(p["Bucket"], json.dumps(document).encode())
        return cls(p["Bucket"], {})

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.s3.models import s3_backends

        with contextlib.suppress(Exception):  # the bucket may be gone already
            s3_backends[account_id]["aws"].delete_bucket_policy(resource_name)


class _CfnScalableTarget(_CfnResource):
    """AWS::ApplicationAutoScaling::ScalableTarget with its ScheduledActions (moto's
    CloudFormation skips the type). Physical id as in AWS: resource|dimension|namespace.
    Registered only: nothing scales (no metrics, no schedules run)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApplicationAutoScaling::ScalableTarget"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        backend = autoscaling_backend(account_id, region_name)
        backend.register_scalable_target(p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"],
                                         p.get("MinCapacity"), p.get("MaxCapacity"), p.get("RoleARN"),
                                         p.get("SuspendedState"))
        for action in p.get("ScheduledActions", []):
            backend.put_scheduled_action(
                service_namespace=p["ServiceNamespace"], schedule=action["Schedule"], timezone=action.get("Timezone"),
                scheduled_action_name=action["ScheduledActionName"], resource_id=p["ResourceId"],
                scalable_dimension=p["ScalableDimension"], start_time=action.get("StartTime"),
                end_time=action.get("EndTime"), scalable_target_action=action.get("ScalableTargetAction"))
        return cls(f"{p['ResourceId']}|{p['ScalableDimension']}|{p['ServiceNamespace']}", {})

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        if new.physical_resource_id != original_resource.physical_resource_id:
            cls.delete_from_cloudformation_json(original_resource.physical_resource_id, cloudformation_json,
                                                account_id, region_name)
        return new

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        resource_id, dimension, namespace = resource_name.split("|")
        backend = autoscaling_backend(account_id, region_name)
        backend.scheduled_actions = [a for a in backend.scheduled_actions if a.resource_id != resource_id]
        with contextlib.suppress(Exception):  # already gone
            backend.deregister_scalable_target(namespace, resource_id, dimension)


class _CfnScalingPolicy(_CfnResource):
    """AWS::ApplicationAutoScaling::ScalingPolicy (moto's CloudFormation skips the type)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApplicationAutoScaling::ScalingPolicy"

    @staticmethod
    def _target(p: dict) -> tuple[str, str, str]:
        if p.get("ScalingTargetId"):
            resource_id, dimension, namespace = p["ScalingTargetId"].split("|")
            return namespace, resource_id, dimension
        return p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        namespace, resource_id, dimension = cls._target(p)
        policy = autoscaling_backend(account_id, region_name).put_scaling_policy(
            policy_name=p["PolicyName"], service_namespace=namespace, resource_id=resource_id,
            scalable_dimension=dimension, policy_type=p.get("PolicyType"),
            policy_body=p.get("StepScalingPolicyConfiguration") or p.get("TargetTrackingScalingPolicyConfiguration"))
        return cls(f"{policy.policy_arn}", {"Arn": policy.policy_arn})

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = autoscaling_backend(account_id, region_name)
        for key, policy in list(backend.policies.items()):
            if policy.policy_arn == resource_name:
                with contextlib.suppress(Exception):  # already gone
                    backend.delete_scaling_policy(policy.policy_name, policy.service_namespace,
                                                  policy.resource_id, policy.scalable_dimension)


class _CfnTopicPolicy(_CfnResource):
    """AWS::SNS::TopicPolicy: sets each topic's Policy attribute (not enforced)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        import json

        from moto.sns.models import sns_backends

        p = cloudformation_json["Properties"]
        for topic in p.get("Topics", []):
            sns_backends[account_id][region_name].set_topic_attribute(topic, "Policy", json.dumps(p["PolicyDocument"]))
        return cls(resource_name, {})


class _CfnSubscription(_CfnResource):
    """AWS::SNS::Subscription: Subscribe (nothing is delivered to e-mail endpoints)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.sns.models import sns_backends

        p = cloudformation_json["Properties"]
        subscription = sns_backends[account_id][region_name].subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
        return cls(subscription.arn, {})

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        cls.delete_from_cloudformation_json(original_resource.physical_resource_id, cloudformation_json,
                                            account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.sns.models import sns_backends

        sns_backends[account_id][region_name].unsubscribe(resource_name)


HANDLERS = {c.cloudformation_type(): c for c in (_CfnAlarm, _CfnModelPackageGroup, _CfnModelPackage,
                                                  _CfnBucketPolicy, _CfnScalableTarget, _CfnScalingPolicy,
                                                  _CfnTopicPolicy, _CfnSubscription)}
