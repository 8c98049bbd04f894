"""The SAM template: cfn-lint offline, the real SAM transform, and what the transformed stack grants."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from cfnlint.decode import decode_str
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from ops.database import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "infra" / "template.yaml"
REGION = "eu-west-1"
# Any network use would fail: the checks must work on a machine with no AWS access at all.
OFFLINE = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
}
PRIVATE_SETUP = {
    "VpcSubnetIds": "subnet-0a1b2c3d,subnet-4e5f6a7b",
    "VpcSecurityGroupIds": "sg-0123456789abcdef0",
    "KmsKeyArn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "EnableSeedRoute": "true",
    "AlarmEmail": "ops@example.com",
    "ChatCorsOrigins": "https://shop.example.com",
    "HandlerReservedConcurrency": "0",
    "HandlerMaxRetryAttempts": "1",
    "HandlerMaxEventAgeSeconds": "600",
}


def sam_template() -> dict[str, Any]:
    decoded, errors = decode_str(TEMPLATE.read_text())
    assert not errors and decoded is not None
    template: dict[str, Any] = json.loads(json.dumps(decoded))
    return template


def transform(parameters: Mapping[str, str]) -> dict[str, Any]:
    """What CloudFormation deploys: the SAM transform, after `sam package` replaced the local code."""
    template = sam_template()
    template["Globals"]["Function"]["CodeUri"] = "s3://artifacts-bucket/whatsapp-assistant/code.zip"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    result: dict[str, Any] = translator.translate(
        template, parameter_values=dict(parameters), get_managed_policy_map=lambda: {}
    )
    return result


@pytest.fixture(scope="module")
def default_stack() -> dict[str, Any]:
    return transform({})


@pytest.fixture(scope="module")
def private_stack() -> dict[str, Any]:
    return transform(PRIVATE_SETUP)


def resources_of_type(stack: Mapping[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in stack["Resources"].items() if r["Type"] == kind}


def policy_statements(stack: Mapping[str, Any], role: str) -> list[dict[str, Any]]:
    policies = stack["Resources"][role]["Properties"].get("Policies", [])
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def actions(statement: Mapping[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def resources(statement: Mapping[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def condition_holds(stack: Mapping[str, Any], name: str, parameters: Mapping[str, str]) -> bool:
    """Evaluate one of the template's conditions for given parameter values (the intrinsics it uses)."""
    defaults = {key: str(p.get("Default", "")) for key, p in stack["Parameters"].items()}
    values = {**defaults, **parameters}

    def evaluate(node: Any) -> Any:
        if isinstance(node, Mapping) and len(node) == 1:
            [(function, argument)] = node.items()
            if function == "Ref":
                return values[argument]
            if function == "Fn::Equals":
                left, right = (evaluate(part) for part in argument)
                return str(left) == str(right)
            if function == "Fn::Not":
                return not evaluate(argument[0])
            if function == "Fn::Join":
                separator, parts = argument
                joined = evaluate(parts)
                return separator.join(joined.split(",") if isinstance(joined, str) else joined)
            if function == "Condition":
                return evaluate(stack["Conditions"][argument])
        return node

    return bool(evaluate(stack["Conditions"][name]))


def test_the_sam_template_passes_cfn_lint_offline() -> None:
    environment = {**os.environ, **OFFLINE}
    command = [str(Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE)]
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("setup", ["default", "private"])
def test_the_transformed_stack_passes_cfn_lint(setup: str, request: pytest.FixtureRequest) -> None:
    stack = request.getfixturevalue(f"{setup}_stack")
    # W2001 (unused parameter): SAM writes the async-invoke parameters' values into the resource.
    config = ManualArgs(regions=[REGION], ignore_checks=["W2001"])
    matches = lint(json.dumps(stack), config=config)
    assert [str(match) for match in matches] == []


def test_both_functions_run_python_3_13_on_arm64_with_the_agreed_entry_points(
    default_stack: dict[str, Any],
) -> None:
    functions = resources_of_type(default_stack, "AWS::Lambda::Function")
    entries = {name: f["Properties"]["Handler"] for name, f in functions.items()}
    assert entries == {
        "HandlerFunction": "handler.app.lambda_handler",
        "ForwarderFunction": "forwarder.app.lambda_handler",
    }
    for function in functions.values():
        assert function["Properties"]["Runtime"] == "python3.13"
        assert function["Properties"]["Architectures"] == ["arm64"]


@pytest.mark.parametrize(
    ("parameters", "retries", "max_age"),
    [({}, 2, 3600), ({"HandlerMaxRetryAttempts": "1", "HandlerMaxEventAgeSeconds": "600"}, 1, 600)],
)
def test_failed_handler_events_end_in_the_dead_letter_queue(
    parameters: dict[str, str], retries: int, max_age: int
) -> None:
    stack = transform(parameters)
    [config] = resources_of_type(stack, "AWS::Lambda::EventInvokeConfig").values()
    properties = config["Properties"]
    assert properties["FunctionName"] == {"Ref": "HandlerFunction"}
    # SAM writes the parameters' values in (as given: CloudFormation accepts "1" for 1).
    assert (int(properties["MaximumRetryAttempts"]), int(properties["MaximumEventAgeInSeconds"])) == (
        retries,
        max_age,
    )
    destination = properties["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["HandlerDeadLetterQueue", "Arn"]}
    queue = stack["Resources"]["HandlerDeadLetterQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 1209600
    sends = [s for s in policy_statements(stack, "HandlerFunctionRole") if "sqs:SendMessage" in actions(s)]
    assert [resources(s) for s in sends] == [[destination]]


def test_reserved_concurrency_is_a_parameter_and_zero_means_unreserved(default_stack: dict[str, Any]) -> None:
    reserved = default_stack["Resources"]["HandlerFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "HandlerReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert condition_holds(default_stack, "HasReservedConcurrency", {})
    assert not condition_holds(default_stack, "HasReservedConcurrency", {"HandlerReservedConcurrency": "0"})


def test_the_forwarder_may_only_invoke_the_handler_and_park_bodies(default_stack: dict[str, Any]) -> None:
    role = default_stack["Resources"]["ForwarderFunctionRole"]["Properties"]
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    granted = {
        action: resources(statement)
        for statement in policy_statements(default_stack, "ForwarderFunctionRole")
        for action in actions(statement)
    }
    assert granted == {
        "lambda:InvokeFunction": [
            {"Fn::GetAtt": ["HandlerFunction", "Arn"]},
            {"Fn::Sub": "${HandlerFunction.Arn}:*"},
        ],
        "s3:PutObject": [{"Fn::Sub": "${ParkingBucket.Arn}/*"}],
    }


def test_only_the_handler_uses_the_kms_key_and_reads_parked_bodies(
    default_stack: dict[str, Any], private_stack: dict[str, Any]
) -> None:
    for stack in (default_stack, private_stack):
        handler = {
            action: resources(s)
            for s in policy_statements(stack, "HandlerFunctionRole")
            for action in actions(s)
        }
        assert handler["s3:GetObject"] == [{"Fn::Sub": "${ParkingBucket.Arn}/*"}]
        key_choice = {
            "Fn::If": ["CreateKmsKey", {"Fn::GetAtt": ["TenantSecretsKey", "Arn"]}, {"Ref": "KmsKeyArn"}]
        }
        assert handler["kms:Decrypt"] == handler["kms:GenerateDataKey"] == [key_choice]
        assert sorted(a for a in handler if a.startswith("kms:")) == ["kms:Decrypt", "kms:GenerateDataKey"]
        assert "lambda:InvokeFunction" not in handler
        forwarder_actions = {a for s in policy_statements(stack, "ForwarderFunctionRole") for a in actions(s)}
        assert not any(a.startswith("kms:") for a in forwarder_actions)
        env = stack["Resources"]["HandlerFunction"]["Properties"]["Environment"]["Variables"]
        assert env["KMS_KEY_ID"] == key_choice
    assert condition_holds(default_stack, "CreateKmsKey", {})
    assert not condition_holds(default_stack, "CreateKmsKey", {"KmsKeyArn": PRIVATE_SETUP["KmsKeyArn"]})
    key = default_stack["Resources"]["TenantSecretsKey"]
    assert key["Condition"] == "CreateKmsKey" and key["DeletionPolicy"] == "Retain"


def test_secrets_come_from_secrets_manager_never_literals(default_stack: dict[str, Any]) -> None:
    functions = resources_of_type(default_stack, "AWS::Lambda::Function")
    expected = {
        "HandlerFunction": {"DATABASE_URL", "META_APP_SECRET", "VERIFY_TOKEN"},
        "ForwarderFunction": {"META_APP_SECRET", "VERIFY_TOKEN"},
    }
    for name, secrets in expected.items():
        env = functions[name]["Properties"]["Environment"]["Variables"]
        for variable in secrets:
            assert env[variable] == {
                "Fn::Sub": "{{resolve:secretsmanager:${SecretsName}:SecretString:" + variable + "}}"
            }
    handler_env = functions["HandlerFunction"]["Properties"]["Environment"]["Variables"]
    assert handler_env["DB_STATEMENT_CACHE"] == {"Ref": "DbStatementCache"}
    assert default_stack["Parameters"]["DbStatementCache"]["Default"] == "false"
    forwarder_env = functions["ForwarderFunction"]["Properties"]["Environment"]["Variables"]
    assert forwarder_env["HANDLER_FUNCTION_NAME"] == {"Ref": "HandlerFunctionAliaslive"}
    assert forwarder_env["PARKING_BUCKET"] == {"Ref": "ParkingBucket"}
    assert "HANDOFF_TIMEOUT_SECONDS" in forwarder_env


def test_the_webhook_is_a_public_function_url_and_its_address_an_output(
    default_stack: dict[str, Any],
) -> None:
    [url] = resources_of_type(default_stack, "AWS::Lambda::Url").values()
    assert url["Properties"]["AuthType"] == "NONE"
    assert url["Properties"]["TargetFunctionArn"] == {"Ref": "ForwarderFunctionAliaslive"}
    assert default_stack["Outputs"]["WebhookUrl"]["Value"] == {
        "Fn::Sub": "${ForwarderFunctionUrl.FunctionUrl}webhook"
    }


def test_parked_bodies_expire_and_are_never_public(default_stack: dict[str, Any]) -> None:
    bucket = default_stack["Resources"]["ParkingBucket"]["Properties"]
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and 1 <= rule["ExpirationInDays"] <= 14
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_alarms_watch_handler_errors_dead_letters_and_forwarder_5xx(default_stack: dict[str, Any]) -> None:
    watched = {
        (
            a["Properties"]["Namespace"],
            a["Properties"]["MetricName"],
            json.dumps(a["Properties"]["Dimensions"]),
        )
        for a in resources_of_type(default_stack, "AWS::CloudWatch::Alarm").values()
        if "MetricName" in a["Properties"]  # (the fallback rate is metric math: test_metric_alarms.py)
    }

    def dimension(name: str, value: Any) -> str:
        return json.dumps([{"Name": name, "Value": value}])

    assert {
        ("AWS/Lambda", "Errors", dimension("FunctionName", {"Ref": "HandlerFunction"})),
        (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            dimension("QueueName", {"Fn::GetAtt": ["HandlerDeadLetterQueue", "QueueName"]}),
        ),
        ("AWS/Lambda", "Url5xxCount", dimension("FunctionName", {"Ref": "ForwarderFunction"})),
    } <= watched


def test_vpc_settings_apply_only_when_subnets_are_given(
    default_stack: dict[str, Any], private_stack: dict[str, Any]
) -> None:
    assert not condition_holds(default_stack, "HasVpc", {})
    assert condition_holds(default_stack, "HasVpc", {"VpcSubnetIds": PRIVATE_SETUP["VpcSubnetIds"]})
    vpc = private_stack["Resources"]["HandlerFunction"]["Properties"]["VpcConfig"]
    assert vpc["Fn::If"][0] == "HasVpc"
    assert vpc["Fn::If"][1] == {
        "SubnetIds": {"Ref": "VpcSubnetIds"},
        "SecurityGroupIds": {"Ref": "VpcSecurityGroupIds"},
    }
    assert "VpcConfig" not in private_stack["Resources"]["ForwarderFunction"]["Properties"]


def test_the_seed_route_exists_only_when_enabled(default_stack: dict[str, Any]) -> None:
    route = default_stack["Resources"]["SeedRoute"]
    assert route["Condition"] == "SeedRouteEnabled"
    assert route["Properties"]["RouteKey"] == "POST /functions/v1/api-chatbot"
    assert not condition_holds(default_stack, "SeedRouteEnabled", {})
    assert condition_holds(default_stack, "SeedRouteEnabled", {"EnableSeedRoute": "true"})


def test_the_handler_gets_the_seed_route_key_only_when_the_route_is_enabled(
    default_stack: dict[str, Any],
) -> None:
    # The handler refuses the seed route without a key of its own, whatever the API exposes.
    variables = default_stack["Resources"]["HandlerFunction"]["Properties"]["Environment"]["Variables"]
    condition, enabled, disabled = variables["SEED_ROUTE_KEY"]["Fn::If"]
    assert (condition, disabled) == ("SeedRouteEnabled", "")
    assert enabled == {"Fn::Sub": "{{resolve:secretsmanager:${SecretsName}:SecretString:SEED_ROUTE_KEY}}"}


def iter_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield key
            yield from iter_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_strings(item)


def test_no_test_secret_or_token_is_written_into_the_template() -> None:
    strings = list(iter_strings(sam_template()))
    for secret in ("test-app-secret", "test-verify-token", "postgresql://", "gsk_", "EAA"):
        assert not any(secret in s for s in strings), secret


def test_the_sam_local_environment_file_sets_only_variables_the_template_declares() -> None:
    # `sam local invoke --env-vars` silently ignores a variable the function does not declare.
    local = json.loads((PROJECT_ROOT / "infra" / "env.local.json").read_text())
    resources = sam_template()["Resources"]
    for function, variables in local.items():
        declared = resources[function]["Properties"]["Environment"]["Variables"]
        assert set(variables) <= set(declared), function
