"""The fault proxy makes the emulator behave like AWS where moto is lenient, and like AWS on a bad day: these
tests pin each behaviour the other tests rely on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from trailguard_dev.dynamodb import create_state_table
from trailguard_dev.emulator import Emulator, environment
from trailguard_dev.proxy import Fault, FaultProxy

from .conftest import BUCKET, make_trail

pytestmark = pytest.mark.integration
ONCE = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def proxy(aws: Emulator) -> Iterator[FaultProxy]:
    with FaultProxy(aws.endpoint) as running, environment(running.environ()):
        yield running


def table(name: str = "t") -> Any:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", config=ONCE)
    create_state_table(dynamodb, name)
    return dynamodb


def claim(dynamodb: Any, key: str) -> bool:
    """The delivery claim's shape: a conditional UpdateItem that takes a free item."""
    try:
        dynamodb.update_item(
            TableName="t",
            Key={"pk": {"S": key}},
            UpdateExpression="SET claimed = :yes ADD attempts :one",
            ConditionExpression="attribute_not_exists(claimed)",
            ExpressionAttributeValues={":yes": {"BOOL": True}, ":one": {"N": "1"}},
        )
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
        return False
    return True


def test_concurrent_conditional_writes_have_exactly_one_winner_as_in_dynamodb(proxy: FaultProxy) -> None:
    dynamodb = table()
    for attempt in range(20):
        wins: list[bool] = []

        def race(key: str = f"k{attempt}", won: list[bool] = wins) -> None:
            won.append(claim(dynamodb, key))

        threads = [threading.Thread(target=race) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(wins) == [False] * 7 + [True]


def test_a_write_applied_whose_answer_is_lost(proxy: FaultProxy) -> None:
    dynamodb = table()
    proxy.add(Fault("PutItem", kind="after"))

    with pytest.raises(ClientError) as lost:
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "k"}})

    assert lost.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert dynamodb.get_item(TableName="t", Key={"pk": {"S": "k"}})["Item"] == {"pk": {"S": "k"}}


def test_an_error_before_the_call_changes_nothing_and_names_its_code(proxy: FaultProxy) -> None:
    make_trail("us-east-1", "main")
    cloudtrail = boto3.client("cloudtrail", region_name="us-east-1", config=ONCE)
    proxy.add(Fault("StopLogging", status=400, code="ThrottlingException"))

    with pytest.raises(ClientError) as throttled:
        cloudtrail.stop_logging(Name="main")

    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    assert cloudtrail.get_trail_status(Name="main")["IsLogging"] is True
    assert proxy.count("StopLogging") == 1


def test_answers_can_be_rewritten_for_the_next_reads_only(proxy: FaultProxy) -> None:
    make_trail("us-east-1", "main")
    cloudtrail = boto3.client("cloudtrail", region_name="us-east-1", config=ONCE)
    proxy.add(Fault("GetTrailStatus", kind="rewrite", times=2, rewrite=lambda a: {**a, "IsLogging": False}))

    seen = [cloudtrail.get_trail_status(Name="main")["IsLogging"] for _ in range(3)]

    assert seen == [False, False, True]


def test_a_fault_can_depend_on_the_calls_arguments(proxy: FaultProxy) -> None:
    make_trail("us-east-1", "main")
    cloudtrail = boto3.client("cloudtrail", region_name="us-east-1", config=ONCE)
    proxy.add(Fault("UpdateTrail", status=400, code="InvalidS3BucketNameException", times=-1,
                    when=lambda arguments: arguments.get("S3BucketName") == "nope"))  # fmt: skip

    with pytest.raises(ClientError):
        cloudtrail.update_trail(Name="main", S3BucketName="nope")
    cloudtrail.update_trail(Name="main", S3BucketName=BUCKET)


def test_a_batch_left_unprocessed_is_retried_with_pauses_then_given_up(proxy: FaultProxy) -> None:
    from trailguard.state_table import UNPROCESSED_PAUSES, StateTable, Unprocessed

    table("trailguard")
    pauses: list[float] = []
    state = StateTable(boto3.client("dynamodb", region_name="us-east-1"), "trailguard", sleep=pauses.append)

    def unprocessed(answer: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {"trailguard": []}, "UnprocessedKeys": {"trailguard": {"Keys": [{"pk": {"S": "x"}}]}}}

    proxy.add(Fault("BatchGetItem", kind="rewrite", times=2, rewrite=unprocessed))
    assert state.reported(["arn:aws:cloudtrail:us-east-1:1:trail/t"]) == {}
    assert pauses == list(UNPROCESSED_PAUSES[:2])

    proxy.add(Fault("BatchGetItem", kind="rewrite", times=-1, rewrite=unprocessed))
    with pytest.raises(Unprocessed):
        state.reported(["arn:aws:cloudtrail:us-east-1:1:trail/t"])
    assert proxy.count("BatchGetItem") == 3 + len(UNPROCESSED_PAUSES) + 1  # bounded: no hot loop
