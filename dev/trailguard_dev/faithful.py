"""Where moto is more lenient than AWS about organizations and roles, make the emulator answer as AWS does.

``install()`` wraps a few of moto's request handlers; each wrapper decides only the cases described here and
hands everything else to moto's own handler. ``make_server`` installs it; a second call does nothing. The
patches are process-wide: an in-process emulator changes moto for its whole interpreter.

**Organization trails.** The management account creates an organization trail; CloudTrail replicates it into
every member account, where members can see it but never modify or delete it (CloudTrail User Guide,
"Creating a trail for an organization"). moto keeps it in the management account only. Here, for a member:

- DescribeTrails lists it as a shadow trail unless ``includeShadowTrails`` is false (CloudTrail API reference,
  DescribeTrails: a shadow trail is also the replication of an organization trail in member accounts), and
  ListTrails lists it; described as the management account describes it (its ARN, its home region). A
  multi-region trail shows in every region, a single-region trail in its own region only.
- GetTrail, GetTrailStatus, GetEventSelectors, GetInsightSelectors and ListTags answer with the management
  account's trail when it is named by its full ARN, in its home region (API reference, GetTrailStatus
  ``Name`` and GetEventSelectors ``TrailName``: a member account must give the ARN of an organization
  trail). By plain name, or from another region, the trail is unknown to the member, as moto answers.
- StartLogging, StopLogging, UpdateTrail, DeleteTrail, PutEventSelectors, PutInsightSelectors, AddTags and
  RemoveTags naming it by ARN change nothing and answer ``NotOrganizationMasterAccountException``, worded as
  CloudTrail records it for StopLogging ("Cannot stop trail, not master trail.").

**AssumeRole.** STS issues credentials only for a role that exists and whose trust policy allows the caller
(STS API reference, AssumeRole; IAM User Guide, role trust policies); otherwise it answers 403
``AccessDenied``, "User: <caller ARN> is not authorized to perform: sts:AssumeRole on resource: <role ARN>".
moto issues credentials for any role ARN. Here a trust statement allows the caller when its Effect is Allow,
its Action covers ``sts:AssumeRole`` and its ``AWS`` principal is ``*``, the caller's ARN, the role the
caller is a session of, or the caller's account (its id or its ``:root`` ARN). Conditions and the caller's
own IAM policies are not evaluated. The caller is who moto's GetCallerIdentity says it is.

**Speed, not behaviour.** moto finds the account of every request by scanning every account's access keys,
so each call costs more the more accounts the emulator holds (two thirds of its time with a thousand). The
account found for a key is remembered, and checked (one lookup) before it is used again.

**Reset.** ``POST /moto-api/reset`` also forgets which accounts are members of an organization (moto keeps
that map across resets, so a member of a discarded organization would still see its trails).

Thread safety: the wrappers only read moto's state, from copies of its dictionaries' contents; the one
per-request setting (which account's trail a read answers with) lives on moto's per-request handler object.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from moto.cloudtrail.models import Trail, cloudtrail_backends
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.base_backend import BackendDict
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.iam.models import iam_backends
from moto.organizations.models import organizations_backends
from moto.sts.responses import TokenResponse

Handler = Callable[[Any], Any]

_OWNER = "_trailguard_trail_owner"  # on a CloudTrail request: the account whose backend answers it
_READS = {
    "get_trail": "Name",
    "get_trail_status": "Name",
    "get_event_selectors": "TrailName",
    "get_insight_selectors": "TrailName",
}
_WRITES = {  # handler -> (the parameter naming the trail, what the refusal says cannot be done)
    "start_logging": ("Name", "start"),
    "stop_logging": ("Name", "stop"),
    "update_trail": ("Name", "update"),
    "delete_trail": ("Name", "delete"),
    "put_event_selectors": ("TrailName", "put event selectors on"),
    "put_insight_selectors": ("TrailName", "put insight selectors on"),
    "add_tags": ("ResourceId", "add tags to"),
    "remove_tags": ("ResourceId", "remove tags from"),
}
_ROLE_ARN = re.compile(r"^arn:([\w-]+):iam::(\d{12}):role/.+$")
_MARK = "_trailguard_faithful"  # set on moto's CloudTrail handler class once the wrappers are in place
_install_lock = threading.Lock()


def install() -> None:
    """Wrap moto's CloudTrail and STS handlers and its reset (once per process)."""
    with _install_lock:
        if getattr(CloudTrailResponse, _MARK, False):
            return
        _patch_cloudtrail()
        _patch_sts()
        _patch_reset()
        _patch_account_lookup()
        setattr(CloudTrailResponse, _MARK, True)


# --- organization trails -------------------------------------------------------------------------------------


def _organization_trails(account: str) -> list[Trail]:
    """The organization trails of the organization ``account`` is a member of (none for a non-member)."""
    owner = organizations_backends.master_accounts.get(account)
    if owner is None or owner[0] == account or owner[0] not in cloudtrail_backends:
        return []
    regions = list(cloudtrail_backends[owner[0]].values())
    return [trail for backend in regions for trail in list(backend.trails.values()) if trail.is_org_trail]


def _shadowed_trail(account: str, arn: Any, region: str | None = None) -> Trail | None:
    """The organization trail with this ARN that ``account`` sees as a member (in ``region``, its home)."""
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    trails = _organization_trails(account)
    return next((t for t in trails if t.arn == arn and region in (None, t.region_name)), None)


def _backend(self: CloudTrailResponse) -> Any:
    return cloudtrail_backends[getattr(self, _OWNER, None) or self.current_account][self.region]


def _read(original: Handler, parameter: str) -> Handler:
    def handler(self: CloudTrailResponse) -> Any:
        trail = _shadowed_trail(self.current_account, self._get_param(parameter), self.region)
        if trail is not None:
            setattr(self, _OWNER, trail.account_id)
        return original(self)

    return handler


def _write(original: Handler, parameter: str, action: str) -> Handler:
    def handler(self: CloudTrailResponse) -> Any:
        if _shadowed_trail(self.current_account, self._get_param(parameter)) is not None:
            raise JsonRESTError("NotOrganizationMasterAccountException", f"Cannot {action} trail, not master trail.")
        return original(self)

    return handler


def _listing(original: Handler, key: str, describe: Callable[[Trail], dict[str, Any]]) -> Handler:
    def handler(self: CloudTrailResponse) -> Any:
        body = original(self)
        if key == "trailList" and not self._get_bool_param("includeShadowTrails", True):
            return body
        shadows = [
            t for t in _organization_trails(self.current_account) if t.is_multi_region or t.region_name == self.region
        ]
        if not shadows:
            return body
        answer = json.loads(body)
        answer[key].extend(describe(t) for t in shadows)
        return json.dumps(answer)

    return handler


def _list_tags(original: Handler) -> Handler:
    def handler(self: CloudTrailResponse) -> Any:
        ids = self._get_param("ResourceIdList") or []
        trails = [_shadowed_trail(self.current_account, rid, self.region) for rid in ids]
        if not any(trails):
            return original(self)
        tags: list[dict[str, Any]] = []
        for rid, trail in zip(ids, trails, strict=True):
            backend = cloudtrail_backends[trail.account_id][self.region] if trail else _backend(self)
            tags.extend(backend.list_tags([rid]))
        return json.dumps({"ResourceTagList": tags})

    return handler


def _patch_cloudtrail() -> None:
    cls: Any = CloudTrailResponse
    cls.cloudtrail_backend = property(_backend)
    for name, parameter in _READS.items():
        setattr(cls, name, _read(getattr(cls, name), parameter))
    for name, (parameter, action) in _WRITES.items():
        setattr(cls, name, _write(getattr(cls, name), parameter, action))
    cls.describe_trails = _listing(cls.describe_trails, "trailList", lambda t: t.description(include_region=True))
    cls.list_trails = _listing(cls.list_trails, "Trails", lambda t: t.short())
    cls.list_tags = _list_tags(cls.list_tags)


# --- AssumeRole ------------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _trusts(document: str, names: set[str]) -> bool:
    """Whether a trust policy allows ``sts:AssumeRole`` to any of these principal names."""
    try:
        statements = _as_list(json.loads(document).get("Statement", []))
    except (ValueError, AttributeError, TypeError):  # not a JSON policy document
        return False
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = {str(a).lower() for a in _as_list(statement.get("Action"))}
        principal = statement.get("Principal")
        aws = _as_list(principal.get("AWS", [])) if isinstance(principal, dict) else [principal]
        if actions & {"sts:assumerole", "sts:*", "*"} and names & {str(p) for p in aws}:
            return True
    return False


def _caller(self: TokenResponse) -> tuple[str, set[str]]:
    """The caller's ARN as GetCallerIdentity gives it, and every principal name that designates it."""
    key = self.get_access_key()
    _, arn, account = self.backend.get_caller_identity(key, self.region)
    partition = arn.split(":")[1]
    names = {"*", arn, account, f"arn:{partition}:iam::{account}:root"}
    if ":user/" in arn:  # moto spells its default identity arn:aws:sts::<account>:user/moto; IAM says iam
        names.add(arn.replace(":sts::", ":iam::", 1))
    session = self.backend.get_assumed_role_from_access_key(key)
    if session is not None:
        names.add(session.role_arn)
    return arn, names


def _assume_role(original: Handler) -> Handler:
    def handler(self: TokenResponse) -> Any:
        role_arn = self._get_param("RoleArn")
        match = _ROLE_ARN.match(role_arn or "")
        if match is None:
            return original(self)
        partition, account = match.groups()
        caller, names = _caller(self)
        try:
            role = iam_backends[account][partition].get_role_by_arn(role_arn)
        except Exception:  # moto's NotFoundException, or a partition it does not know
            role = None
        if role is None or not _trusts(role.assume_role_policy_document, names):
            raise AccessDeniedError(caller, f"sts:AssumeRole on resource: {role_arn}")
        return original(self)

    return handler


def _patch_sts() -> None:
    cls: Any = TokenResponse
    cls.assume_role = _assume_role(cls.assume_role)


# --- reset -----------------------------------------------------------------------------------------------------


def _patch_reset() -> None:
    original = BackendDict.reset

    def reset(_cls: type[BackendDict[Any]]) -> None:
        original()
        organizations_backends.master_accounts.clear()

    setattr(BackendDict, "reset", classmethod(reset))  # noqa: B010 (mypy: a method is not assignable)


# --- the account of a request, found once per access key ----------------------------------------------------


def _patch_account_lookup() -> None:
    import moto.iam.models as iam_models

    original = iam_models.get_account_id_from
    known: dict[str, tuple[str, str]] = {}  # access key -> (account, partition)

    def account_of(access_key: str) -> str:
        hit = known.get(access_key)
        if hit is not None:
            account, partition = hit
            backend = iam_backends.get(account)
            if backend is not None and access_key in backend[partition].access_keys:
                return account
        account = original(access_key)
        for partition in ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"):
            backend = iam_backends.get(account)
            if backend is not None and partition in backend and access_key in backend[partition].access_keys:
                known[access_key] = (account, partition)
                break
        return account

    iam_models.get_account_id_from = account_of
