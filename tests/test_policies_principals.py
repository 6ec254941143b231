"""Principal and NotPrincipal in trust and other resource-based policies.

Cases follow AWS's "AWS JSON policy elements: Principal" and "NotPrincipal" pages.
"""

from __future__ import annotations

from typing import Any

import pytest

from grants.policies import (
    DecisionKind,
    PolicyKind,
    PolicySource,
    Request,
    evaluate_policies,
    parse_caller,
)

TRUSTED = "444455556666"
USER = f"arn:aws:iam::{TRUSTED}:user/hoge-app"
PATH_USER = f"arn:aws:iam::{TRUSTED}:user/division/hoge-app"
OTHER_USER = f"arn:aws:iam::{TRUSTED}:user/someone-else"
STRANGER = "arn:aws:iam::999988887777:user/mallory"
APP_ROLE = f"arn:aws:iam::{TRUSTED}:role/app"
PATH_ROLE = f"arn:aws:iam::{TRUSTED}:role/service/app"
SESSION = f"arn:aws:sts::{TRUSTED}:assumed-role/app/i-0123"
OTHER_SESSION = f"arn:aws:sts::{TRUSTED}:assumed-role/app/i-9999"
OTHER_ROLE_SESSION = f"arn:aws:sts::{TRUSTED}:assumed-role/batch/i-0123"
SAML = f"arn:aws:iam::{TRUSTED}:saml-provider/corp"
ORPHAN_ROLE = "AROADBQP57FF2AEXAMPLE"
ORPHAN_USER = "AIDACKCEVSQ6C2EXAMPLE"
ROLE = "arn:aws:iam::111122223333:role/piyo-sqs"


def trust(principal: Any, *, key: str = "Principal", effect: str = "Allow") -> PolicySource:
    statement = {"Effect": effect, key: principal, "Action": "sts:AssumeRole"}
    return PolicySource(
        PolicyKind.TRUST,
        "piyo-sqs",
        {"Version": "2012-10-17", "Statement": [statement]},
        "role piyo-sqs",
    )


def admitted(principal: Any, caller: str, *, action: str = "sts:AssumeRole") -> bool:
    return evaluate_policies(Request(caller, action, ROLE), [trust(principal)]).allowed


PRINCIPALS = [
    pytest.param("*", STRANGER, True, id="star-everyone"),
    pytest.param({"AWS": "*"}, STRANGER, True, id="aws-star-everyone"),
    pytest.param({"AWS": TRUSTED}, USER, True, id="account-id-admits-its-user"),
    pytest.param({"AWS": TRUSTED}, SESSION, True, id="account-id-admits-its-session"),
    pytest.param({"AWS": TRUSTED}, STRANGER, False, id="account-id-not-other-account"),
    pytest.param({"AWS": f"arn:aws:iam::{TRUSTED}:root"}, USER, True, id="root-admits-its-user"),
    pytest.param(
        {"AWS": f"arn:aws:iam::{TRUSTED}:root"}, STRANGER, False, id="root-not-other-account"
    ),
    pytest.param(
        {"AWS": f"arn:aws-cn:iam::{TRUSTED}:root"}, USER, False, id="root-other-partition"
    ),
    pytest.param({"AWS": USER}, USER, True, id="user-arn-exact"),
    pytest.param({"AWS": USER}, OTHER_USER, False, id="user-arn-other-user"),
    pytest.param({"AWS": PATH_USER}, PATH_USER, True, id="user-arn-with-path"),
    pytest.param({"AWS": USER}, PATH_USER, False, id="user-arn-path-must-match"),
    pytest.param({"AWS": [STRANGER, USER]}, USER, True, id="list-any"),
    pytest.param({"AWS": APP_ROLE}, SESSION, True, id="role-arn-admits-its-sessions"),
    pytest.param({"AWS": PATH_ROLE}, SESSION, True, id="role-arn-with-path-admits-its-sessions"),
    pytest.param(
        {"AWS": APP_ROLE}, OTHER_ROLE_SESSION, False, id="role-arn-not-other-role-session"
    ),
    pytest.param({"AWS": APP_ROLE}, APP_ROLE, True, id="role-arn-admits-the-role"),
    pytest.param({"AWS": SESSION}, SESSION, True, id="session-arn-exact"),
    pytest.param({"AWS": SESSION}, OTHER_SESSION, False, id="session-arn-not-other-session"),
    pytest.param({"AWS": f"arn:aws:iam::{TRUSTED}:user/*"}, USER, False, id="no-wildcard-arns"),
    pytest.param({"AWS": ORPHAN_ROLE}, SESSION, False, id="unique-id-matches-nobody"),
    pytest.param(
        {"Service": "ec2.amazonaws.com"}, "ec2.amazonaws.com", True, id="service-principal"
    ),
    pytest.param(
        {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]},
        "ec2.amazonaws.com",
        True,
        id="service-list",
    ),
    pytest.param({"Service": "ec2.amazonaws.com"}, USER, False, id="service-not-a-user"),
    pytest.param(
        {"AWS": f"arn:aws:iam::{TRUSTED}:root"},
        "ec2.amazonaws.com",
        False,
        id="account-not-a-service",
    ),
    pytest.param({"Federated": SAML}, SAML, True, id="federated-provider"),
    pytest.param({"Federated": SAML}, USER, False, id="federated-not-a-user"),
    pytest.param(
        {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        True,
        id="canonical-user",
    ),
    pytest.param("arn:aws:iam::444455556666:root", USER, False, id="bare-string-is-not-valid"),
]


@pytest.mark.parametrize(("principal", "caller", "expected"), PRINCIPALS)
def test_principal_forms(principal: Any, caller: str, expected: bool) -> None:
    assert admitted(principal, caller) is expected


def test_orphaned_unique_ids_are_reported_even_when_another_entry_admits() -> None:
    decision = evaluate_policies(
        Request(USER, "sts:AssumeRole", ROLE),
        [trust({"AWS": [ORPHAN_USER, f"arn:aws:iam::{TRUSTED}:root", ORPHAN_ROLE]})],
    )
    assert decision.allowed
    assert decision.orphaned_principals == (ORPHAN_USER, ORPHAN_ROLE)


def test_a_trust_naming_only_an_orphaned_id_admits_nobody() -> None:
    decision = evaluate_policies(
        Request(USER, "sts:AssumeRole", ROLE), [trust({"AWS": ORPHAN_USER})]
    )
    assert decision.kind == DecisionKind.NO_ALLOW
    assert decision.orphaned_principals == (ORPHAN_USER,)


def test_a_resource_statement_without_principal_applies_to_nobody() -> None:
    source = PolicySource(
        PolicyKind.TRUST,
        "piyo-sqs",
        {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]},
    )
    decision = evaluate_policies(Request(USER, "sts:AssumeRole", ROLE), [source])
    assert not decision.allowed
    assert any("names no Principal" in note for note in decision.notes)


def test_a_wildcard_principal_arn_is_explained() -> None:
    decision = evaluate_policies(
        Request(USER, "sts:AssumeRole", ROLE), [trust({"AWS": f"arn:aws:iam::{TRUSTED}:user/*"})]
    )
    assert any("no wildcard" in note for note in decision.notes)


NOT_PRINCIPAL_DENY = [
    # AWS: list the user and its account to spare the user.
    pytest.param(
        [USER, f"arn:aws:iam::{TRUSTED}:root"], USER, False, id="user-and-account-listed-spared"
    ),
    pytest.param(
        [USER, f"arn:aws:iam::{TRUSTED}:root"],
        OTHER_USER,
        True,
        id="other-user-of-that-account-denied",
    ),
    pytest.param([USER], USER, True, id="user-without-account-still-denied"),
    # AWS: a role session is spared only with the session, the role and the account listed.
    pytest.param([SESSION, APP_ROLE, TRUSTED], SESSION, False, id="session-role-account-spared"),
    pytest.param([APP_ROLE, TRUSTED], SESSION, True, id="session-without-session-arn-denied"),
    pytest.param([f"arn:aws:iam::{TRUSTED}:root"], STRANGER, True, id="stranger-denied"),
]


@pytest.mark.parametrize(("listed", "caller", "denied"), NOT_PRINCIPAL_DENY)
def test_not_principal_with_deny(listed: list[str], caller: str, denied: bool) -> None:
    allow_all = trust("*")
    deny = trust({"AWS": listed}, key="NotPrincipal", effect="Deny")
    decision = evaluate_policies(
        Request(caller, "sts:AssumeRole", ROLE),
        [allow_all, PolicySource(PolicyKind.TRUST, "guard", deny.document, "role piyo-sqs")],
    )
    assert decision.explicit_deny is denied
    assert decision.allowed is not denied


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        pytest.param(STRANGER, True, id="everyone-else-allowed"),
        pytest.param(USER, False, id="the-excluded-user-not-allowed"),
    ],
)
def test_not_principal_with_allow(caller: str, expected: bool) -> None:
    source = trust({"AWS": [USER, f"arn:aws:iam::{TRUSTED}:root"]}, key="NotPrincipal")
    assert evaluate_policies(Request(caller, "sts:AssumeRole", ROLE), [source]).allowed is expected


@pytest.mark.parametrize(
    ("arn", "fields"),
    [
        pytest.param(PATH_USER, ("user", TRUSTED, "hoge-app", "/division/"), id="user-with-path"),
        pytest.param(PATH_ROLE, ("role", TRUSTED, "app", "/service/"), id="role-with-path"),
        pytest.param(SESSION, ("assumed-role", TRUSTED, "app", ""), id="session"),
        pytest.param(f"arn:aws:iam::{TRUSTED}:root", ("root", TRUSTED, "", ""), id="root"),
        pytest.param("ec2.amazonaws.com", ("service", "", "", ""), id="service"),
        pytest.param(
            f"arn:aws:sts::{TRUSTED}:federated-user/bob",
            ("federated-user", TRUSTED, "bob", ""),
            id="federated-user",
        ),
    ],
)
def test_callers_parse(arn: str, fields: tuple[str, str, str, str]) -> None:
    caller = parse_caller(arn)
    assert (caller.kind, caller.account, caller.name, caller.path) == fields
