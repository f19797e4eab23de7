"""moto's CloudWatch, patched so that an alarm's change of state reaches the endpoints.

Alarms are not evaluated from metrics: they change only by SetAlarmState (boto3, or the
emulator's `set_alarm_state()`), and the endpoints are brought up to the simulated clock
before and after, so a rollback alarm in ALARM while Updating starts a rollback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localaws.moto_patches import Patcher, serving

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    # alarms: bring endpoints up to now before and after an alarm changes state
    orig_set_alarm_state = CloudWatchBackend.set_alarm_state

    def set_alarm_state(self, alarm_name, reason, reason_data, state_value):
        e = serving(emu, self.account_id, self.region_name)
        if e is not None:
            e.tick()
        orig_set_alarm_state(self, alarm_name, reason, reason_data, state_value)
        if e is not None:
            e.tick()

    patcher.patch(CloudWatchBackend, "set_alarm_state", set_alarm_state)
