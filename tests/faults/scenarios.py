"""The operations under test, each from a prepared world, and the recovery pass after a fault."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from grants import aws, services
from grants.aws import sandbox
from grants.models import Grant, GrantStatus, PermissionSet

from ..test_services_grants import draft
from .checker import Disagreement, disagreements
from .conftest import FaultWorld
from .proxy import FaultKind, Rule

ROLE = "fault-role"
PIYO_ID = sandbox.PIYO.account_id
HOGE_ID = sandbox.HOGE.account_id


def new_grant(world: FaultWorld) -> Grant:
    """A grant whose creation makes every kind of write: a role, an attached managed
    policy, an inline role policy and the grantee's user policy."""
    grant = draft(
        world.piyo,
        world.hoge,
        role_name=ROLE,
        permission_set=PermissionSet.QUEUES,
        queue_names=["orders"],
        queue_actions=["sqs:ReceiveMessage"],
        allow_list_queues=True,
    )
    grant.managed_policy_arns = [world.policy_arn]
    return grant


def settled(grant: Grant, status: str) -> Grant:
    """The grant once its operation has ended in `status`. A normal call may time out on
    a loaded machine (the read timeout is short): the operation then waits for recovery,
    which the preparation of a cell runs (at most three passes)."""
    grant.refresh_from_db()
    for _ in range(3):
        if grant.status == status:
            break
        recover()
        grant.refresh_from_db()
    assert grant.status == status, (grant.status, grant.last_error)
    return grant


def provisioned(world: FaultWorld) -> Grant:
    return settled(services.grant_provision(grant=new_grant(world), actor=None), "active")


def _changed(document: dict, statement: dict | None = None) -> dict:
    changed = json.loads(json.dumps(document))
    changed["Statement"].append(
        statement
        or {"Sid": "Drift", "Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"}
    )
    return changed


# A trust policy admits only sts:AssumeRole statements.
_TRUST_DRIFT = {
    "Sid": "Drift",
    "Effect": "Deny",
    "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
    "Action": "sts:AssumeRole",
}


def _drift_documents(world: FaultWorld, grant: Grant) -> None:
    """Outside the portal: change the trust, inline and user policies, attach another policy."""
    piyo = world.reader.iam(PIYO_ID)
    hoge = world.reader.iam(HOGE_ID)
    piyo.update_assume_role_policy(
        RoleName=grant.role_name,
        PolicyDocument=json.dumps(_changed(grant.trust_policy, _TRUST_DRIFT)),
    )
    piyo.attach_role_policy(RoleName=grant.role_name, PolicyArn=world.other_policy_arn)
    piyo.put_role_policy(
        RoleName=grant.role_name,
        PolicyName=grant.inline_policy_name,
        PolicyDocument=json.dumps(_changed(grant.inline_policy or {})),
    )
    hoge.put_user_policy(
        UserName=grant.grantee_name,
        PolicyName=grant.user_policy_name,
        PolicyDocument=json.dumps(_changed(grant.user_policy)),
    )


@dataclass(frozen=True)
class Scenario:
    """An operation: `prepare` builds the world before it (no faults armed), `run` is the
    operation itself, through its public service, with the faults armed."""

    name: str
    calls: tuple[str, ...]
    prepare: Callable[[FaultWorld], Grant]
    run: Callable[[Grant], object]
    # Drift made outside the portal before a re-apply or an adopt is a disagreement
    # the operation is asked to settle: it may stay if the operation failed, nothing new may.
    baseline_allowed: bool = False


def _prepare_create(world: FaultWorld) -> Grant:
    return new_grant(world)


def _prepare_retry(world: FaultWorld) -> Grant:
    # The durable operations may raise where the old service returned.
    with (
        world.proxy.faults(Rule("iam:PutUserPolicy", FaultKind.ERROR)),
        contextlib.suppress(Exception),
    ):
        services.grant_provision(grant=new_grant(world), actor=None)
    return settled(Grant.objects.get(role_name=ROLE), GrantStatus.FAILED)


def _prepare_reapply_missing(world: FaultWorld) -> Grant:
    """Outside the portal: the role and the grantee's policy are deleted."""
    grant = provisioned(world)
    piyo = world.reader.iam(PIYO_ID)
    world.reader.iam(HOGE_ID).delete_user_policy(
        UserName=grant.grantee_name, PolicyName=grant.user_policy_name
    )
    for arn in grant.managed_policy_arns:
        piyo.detach_role_policy(RoleName=grant.role_name, PolicyArn=arn)
    piyo.delete_role_policy(RoleName=grant.role_name, PolicyName=grant.inline_policy_name)
    piyo.delete_role(RoleName=grant.role_name)
    return grant


def _prepare_reapply_changed(world: FaultWorld) -> Grant:
    """Outside the portal: documents changed, a policy attached, an inline policy added,
    the role's grant tag removed."""
    grant = provisioned(world)
    _drift_documents(world, grant)
    piyo = world.reader.iam(PIYO_ID)
    piyo.put_role_policy(
        RoleName=grant.role_name,
        PolicyName="added-outside",
        PolicyDocument=json.dumps(grant.inline_policy),
    )
    piyo.untag_role(RoleName=grant.role_name, TagKeys=["xacct:grant"])
    return grant


def _prepare_adopt(world: FaultWorld) -> Grant:
    grant = provisioned(world)
    _drift_documents(world, grant)
    return grant


def _fresh(grant: Grant) -> Grant:
    if grant.pk is None:
        return grant
    return Grant.objects.select_related("trusting_account", "trusted_account").get(pk=grant.pk)


def _create(grant: Grant) -> object:
    return services.grant_provision(grant=grant, actor=None)


def _retry(grant: Grant) -> object:
    return services.grant_provision(grant=_fresh(grant), actor=None)


def _revoke(grant: Grant) -> object:
    return services.grant_revoke(grant=_fresh(grant), actor=None)


def _reapply(grant: Grant) -> object:
    return services.grant_reapply(grant=_fresh(grant), actor=None)


def _adopt(grant: Grant) -> object:
    return services.grant_adopt_live(grant=_fresh(grant), actor=None)


ASSUME_PIYO = f"sts:AssumeRole@{PIYO_ID}"
ASSUME_HOGE = f"sts:AssumeRole@{HOGE_ID}"
CREATE_CALLS = (
    ASSUME_PIYO,
    "iam:CreateRole",
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",
    ASSUME_HOGE,
    "iam:PutUserPolicy",
)

SCENARIOS = {
    s.name: s
    for s in (
        Scenario("create", CREATE_CALLS, _prepare_create, _create),
        # The hub roles' AssumeRole is the same call in a retry as in a create.
        Scenario("retry", CREATE_CALLS[1:4] + CREATE_CALLS[5:], _prepare_retry, _retry),
        Scenario(
            "revoke",
            (
                ASSUME_HOGE,
                "iam:DeleteUserPolicy",
                ASSUME_PIYO,
                "iam:GetRole",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:DetachRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:DeleteRole",
            ),
            lambda world: provisioned(world),
            _revoke,
        ),
        Scenario(
            "reapply-missing",
            (
                "iam:GetRole",
                "iam:GetUserPolicy",
                "iam:CreateRole",
                "iam:AttachRolePolicy",
                "iam:PutRolePolicy",
                "iam:PutUserPolicy",
            ),
            _prepare_reapply_missing,
            _reapply,
            baseline_allowed=True,
        ),
        Scenario(
            "reapply-changed",
            (
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:DetachRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:PutRolePolicy",
                "iam:PutUserPolicy",
            ),
            _prepare_reapply_changed,
            _reapply,
            baseline_allowed=True,
        ),
        Scenario(
            "adopt",
            (
                "iam:GetRole",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:GetRolePolicy",
                "iam:GetUserPolicy",
            ),
            _prepare_adopt,
            _adopt,
            baseline_allowed=True,
        ),
    )
}


def rule_for(call: str, kind: FaultKind) -> Rule:
    """The proxy rule for a matrix cell: `call` may name the account of an AssumeRole."""
    name, _, account = call.partition("@")
    return Rule(name, kind, body_contains=account)


def recover() -> list[int]:
    """The recovery pass after healing: every operation whose lease ran out is taken up
    (the lease is made expired by looking a day ahead). Returns what it recovered;
    before durable operations exist there is nothing to recover."""
    try:
        from grants.services import operations_recover  # type: ignore[attr-defined]
    except ImportError:
        return []
    return list(operations_recover(now=timezone.now() + timedelta(days=1)))


def reset_gateway() -> None:
    """Forget cached hub-role credentials, so the operation assumes them again."""
    aws.reset()


# Disagreements about one grant's content (its role or policies differ from the record)
# are one class: a failed re-apply may leave the grant differing otherwise than before.
_DIFFERS = {"missing role", "missing policy", "drift"}


def _key(d: Disagreement) -> tuple[str, str]:
    return ("differs" if d.kind in _DIFFERS else d.kind, d.where)


def _error_name(error: dict | None) -> str:
    return (error or {}).get("code") or (error or {}).get("client_error") or "-"


@dataclass
class Cell:
    """What one matrix cell saw."""

    scenario: str
    call: str
    kind: FaultKind
    fired: int
    error: BaseException | None
    baseline: list[Disagreement]
    found: list[Disagreement]
    recovered: list[int]

    @property
    def new(self) -> list[Disagreement]:
        before = {_key(d) for d in self.baseline}
        return [d for d in self.found if _key(d) not in before]

    def report(self) -> str:
        grants = "; ".join(
            f"#{g.pk} {g.status} error={_error_name(g.last_error)}"
            for g in Grant.objects.order_by("pk")
        )
        lines = [
            f"{self.scenario} x {self.call} x {self.kind}: fault fired {self.fired} time(s), "
            f"operation raised {self.error!r}, recovered {self.recovered}",
            f"grants: {grants}",
            *(f"  NEW {d}" for d in self.new),
            *(f"  baseline {d}" for d in self.baseline),
        ]
        return "\n".join(lines)


def run_cell(world: FaultWorld, scenario: Scenario, call: str, kind: FaultKind) -> Cell:
    """Prepare, run the operation with the fault armed, heal, recover, check."""
    grant = scenario.prepare(world)
    # (test_checker.py shows a provisioned grant agrees with AWS; only drift is a baseline.)
    baseline = disagreements(world.reader) if scenario.baseline_allowed else []
    if call.startswith("sts:AssumeRole"):
        reset_gateway()  # the operation must assume the hub role again
    rule = rule_for(call, kind)
    world.proxy.arm(rule)
    error: BaseException | None = None
    try:
        scenario.run(grant)
    except Exception as exc:
        error = exc
    fired = rule.fired
    world.proxy.heal()
    recovered = recover()
    return Cell(
        scenario.name,
        call,
        kind,
        fired,
        error,
        baseline,
        disagreements(world.reader),
        recovered,
    )
