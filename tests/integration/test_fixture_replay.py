"""Every fixture end to end: the recorded call made for real against the emulator, then its event to the
real handler. Proves each fixture's request parameters are a real API call, and pins each one's verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.events import HERE, names
from trailguard_dev.corpus import handled
from trailguard_dev.emulator import Emulator, pointed_at

pytestmark = pytest.mark.integration

EXPECTED = {
    "createtrail_failed_invalid_token": "ignored",
    "createtrail_terraform": "ignored",
    "deletetrail_cli_arn": "drift",
    "deletetrail_cli_arn_scrubbed_account": "drift",
    "deletetrail_cloudformation": "drift",
    "deletetrail_conflict": "failed-attempt",
    "deletetrail_console_arn_trimmed": "drift",
    "deletetrail_terraform": "drift",
    "deletetrail_trail_not_found": "failed-attempt",
    "lookupevents_console": "ignored",
    "puteventselectors_advanced_drop_iam": "drift",
    "puteventselectors_console_advanced_trimmed": "compliant",
    "puteventselectors_fake_region": "ignored",
    "puteventselectors_read_only": "drift",
    "puteventselectors_restore_all": "compliant",
    "puteventselectors_sso_mgmt_off": "drift",
    "puteventselectors_sso_mgmt_on": "compliant",
    "puteventselectors_stratus_mgmt_off": "drift",
    "putinsightselectors_console_trimmed": "ignored",
    "startlogging_cloudshell": "ignored",
    "stoplogging_access_denied": "failed-attempt",
    "stoplogging_cli": "drift",
    "stoplogging_console_2020": "drift",
    "stoplogging_console_arn": "drift",
    "stoplogging_console_arn_trimmed": "drift",
    "stoplogging_invalid_trail_name": "failed-attempt",
    "stoplogging_non_iso_time": "drift",
    "stoplogging_redacted_stringified": "drift",
    "stoplogging_root_not_org_master": "failed-attempt",
    "stoplogging_trail_not_found": "failed-attempt",
    "updatetrail_console_form": "compliant",
    "updatetrail_single_region": "drift",
    "updatetrail_trail_not_found": "failed-attempt",
    "updatetrail_vpce_network_activity": "ignored",
}


def test_every_fixture_has_an_expected_verdict() -> None:
    assert sorted(EXPECTED) == names()


@pytest.mark.parametrize("name", names())
def test_fixture_replayed_end_to_end(
    name: str, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.reset()
    monkeypatch.setenv("STATE_TABLE", "corpus-state")
    for key in ("ALERT_TOPIC_ARN", "SLACK_SECRET_ARN"):
        monkeypatch.delenv(key, raising=False)
    with pointed_at(emulator):
        outcome = handled(Path(HERE) / f"{name}.json")

    assert outcome.split()[0] == EXPECTED[name], outcome
