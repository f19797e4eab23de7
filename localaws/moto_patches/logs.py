"""moto's CloudWatch Logs and CloudWatch, patched so that metrics in Embedded Metric Format reach alarms.

- PutLogEvents: each stored event is also read as EMF (localaws/metric_alarms.py `ingest`), as
  CloudWatch Logs extracts metrics from it, with or without the `x-amzn-logs-format: json/emf`
  header (CloudWatch docs: the header is optional);
- DescribeAlarms: the alarms on those metrics are evaluated first (`evaluate`), so a caller polling
  an alarm sees it move as the datapoints arrive on the simulated clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localaws.moto_patches import Patcher, serving

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.cloudwatch import responses as cloudwatch_responses
    from moto.logs.models import LogsBackend

    orig_put = LogsBackend.put_log_events

    def put_log_events(self, log_group_name, log_stream_name, log_events):
        result = orig_put(self, log_group_name, log_stream_name, log_events)
        if serving(emu, self.account_id, self.region_name) is not None:
            for event in log_events:
                emu.metrics.ingest(event.get("message", ""))
        return result

    patcher.patch(LogsBackend, "put_log_events", put_log_events)

    orig_describe = cloudwatch_responses.CloudWatchResponse.describe_alarms

    def describe_alarms(self):
        if serving(emu, self.current_account, self.region) is not None:
            emu.evaluate_alarms()
        return orig_describe(self)

    patcher.patch(cloudwatch_responses.CloudWatchResponse, "describe_alarms", describe_alarms)
