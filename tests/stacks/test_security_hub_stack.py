"""securityHub=true and reservedConcurrency in the stacks: the handler's environment and its one extra
permission (BatchImportFindings on the account's own custom-integration product), the member role's in an
organization, and the reserved concurrency a new account can opt out of."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stacks.settings import SettingsError
from tests.stacks.conftest import ORG_ON_CONTEXT, Deployment, deploy, settings_from
from tests.stacks.test_detector_stack import only, props
from tests.stacks.test_organization import member_body, member_role, resources, statements_of

PRODUCT = "securityhub:BatchImportFindings"


def grants(template_json: dict[str, Any]) -> str:
    return json.dumps([r["Properties"] for r in template_json["Resources"].values()
                       if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::Role")])  # fmt: skip


@pytest.fixture(scope="module")
def with_hub(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return deploy(settings_from({**ORG_ON_CONTEXT, "securityHub": "true"}), tmp_path_factory.mktemp("hub"))


@pytest.fixture(scope="module")
def without(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return deploy(settings_from({"reservedConcurrency": "0"}), tmp_path_factory.mktemp("plain"))


def test_security_hub_on_sets_the_handlers_environment_and_one_import_permission(with_hub: Deployment) -> None:
    home = with_hub.home
    variables = props(home, only(home, "AWS::Lambda::Function"))["Environment"]["Variables"]
    text = grants(home.to_json())

    assert variables["SECURITY_HUB"] == "on"
    assert text.count(PRODUCT) == 1 and ":product/" in text and "/default" in text


def test_the_member_role_imports_its_own_accounts_findings(with_hub: Deployment) -> None:
    body = member_body(with_hub)
    allowed = [s for s in statements_of(body, member_role(body)) if PRODUCT in json.dumps(s.get("Action"))]

    assert len(allowed) == 1 and allowed[0]["Effect"] == "Allow"
    assert ":product/" in json.dumps(allowed[0]["Resource"]) and "HubRegion" in json.dumps(allowed[0]["Resource"])


def test_without_security_hub_no_permission_and_no_variable(without: Deployment) -> None:
    home = without.home
    variables = props(home, only(home, "AWS::Lambda::Function"))["Environment"]["Variables"]

    assert "SECURITY_HUB" not in variables and PRODUCT not in grants(home.to_json())
    assert "ReservedConcurrentExecutions" not in props(home, only(home, "AWS::Lambda::Function"))
    for template in without.templates.values():
        assert not resources(template, "AWS::SecurityHub::Hub")


def test_reserved_concurrency_defaults_to_twenty(deploy_default: Deployment) -> None:
    home = deploy_default.home

    assert props(home, only(home, "AWS::Lambda::Function"))["ReservedConcurrentExecutions"] == 20


@pytest.mark.parametrize("value", ["5", "-1", "1001", "many", True])
def test_a_bad_reserved_concurrency_is_one_sentence(value: Any) -> None:
    with pytest.raises(SettingsError, match="reservedConcurrency must be 0") as raised:
        settings_from({"reservedConcurrency": value})

    assert "\n" not in str(raised.value)


def test_security_hub_must_be_a_flag() -> None:
    with pytest.raises(SettingsError, match="securityHub must be true or false"):
        settings_from({"securityHub": "yes please"})


def test_cdk_json_documents_no_unknown_key() -> None:
    context = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]

    assert settings_from(context).security_hub is False
