"""Slack's button clicks, made locally: the ``block_actions`` request Slack sends an app's Interactivity URL,
signed as Slack signs it, as a Lambda Function URL (payload format 2.0) delivers it.

Slack's signature is ``v0=`` + hex HMAC-SHA256 of ``v0:<timestamp>:<raw body>`` under the app's signing secret,
sent in ``X-Slack-Signature`` with the timestamp in ``X-Slack-Request-Timestamp``; the body is a form with one
field, ``payload``, holding the interaction as JSON.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "trailguard-local-signing-secret-0001"  # a value for local runs only
USER = "U0TRAILGRD"
TEAM = "T0TRAILGRD"


def click_payload(
    action_id: str, alert_id: str, *, response_url: str, message: dict[str, Any] | None = None, user: str = USER,
    user_name: str = "alice", message_ts: str = "1700000000.000100",
) -> dict[str, Any]:  # fmt: skip
    """The interaction Slack sends when ``user`` clicks the button ``action_id`` (value ``alert_id``)."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user_name, "name": user_name, "team_id": TEAM},
        "team": {"id": TEAM, "domain": "example"},
        "api_app_id": "A0TRAILGRD",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": "C0ALERTS", "is_ephemeral": False},
        "channel": {"id": "C0ALERTS", "name": "security-alerts"},
        "message": {"type": "message", "ts": message_ts, **(message or {"text": "alert", "blocks": []})},
        "response_url": response_url,
        "trigger_id": "1.2.3",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "trailguard-answers",
                "value": alert_id,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def signed_request(payload: dict[str, Any], *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   base64_body: bool = False) -> dict[str, Any]:  # fmt: skip
    """The Function URL event for Slack's POST of ``payload``, signed with ``secret`` at ``timestamp``."""
    body = urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "headers": {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": stamp,
                    "x-slack-signature": signature or "", "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)"},
        "requestContext": {"http": {"method": "POST", "path": "/", "sourceIp": "127.0.0.1"}},
        "body": base64.b64encode(body.encode()).decode() if base64_body else body,
        "isBase64Encoded": base64_body,
    }  # fmt: skip


def alert_message(slack_body: dict[str, Any]) -> dict[str, Any]:
    """The alert message as Slack would hand it back in a click (its text and blocks as posted)."""
    return {"text": slack_body.get("text", ""), "blocks": slack_body.get("blocks", [])}


def button_value(slack_body: dict[str, Any], action_id: str) -> str:
    """The value of the button ``action_id`` in a posted message (the alert's id), or "" when there is none."""
    for block in slack_body.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return str(element.get("value", ""))
    return ""
