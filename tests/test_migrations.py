"""Data migrations carry existing records forward."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("grants", "0006_roles")]
AFTER = [("grants", "0007_verification_batch_items")]


def make_grant(Grant, account, role_name: str):  # type: ignore[no-untyped-def]
    """A grant row with only what the historical model requires."""
    return Grant.objects.create(
        trusting_account=account,
        role_name=role_name,
        trusted_aws_account_id="444455556666",
        trusted_principal_arn="",
        trust_policy={},
        user_policy={},
    )


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    yield executor
    # Leave the schema as the rest of the suite expects it.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_batch_grant_ids_become_items_with_their_results(executor: MigrationExecutor) -> None:
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("auth", "User")
    Account = old.get_model("grants", "AwsAccount")
    Grant = old.get_model("grants", "Grant")
    Batch = old.get_model("grants", "VerificationBatch")
    Verification = old.get_model("grants", "Verification")

    alice = User.objects.create(username="alice")
    piyo = Account.objects.create(account_id="111122223333", name="piyo")
    verified, unverified = (
        make_grant(Grant, piyo, name) for name in ("verified-role", "unverified-role")
    )
    finished = Batch.objects.create(
        actor=alice,
        grant_ids=[verified.pk, unverified.pk, 9999],
        finished_at=timezone.now(),
    )
    verification = Verification.objects.create(
        grant=verified,
        batch=finished,
        actor_name="alice",
        started_at=timezone.now(),
        outcome="passed",
    )
    abandoned = Batch.objects.create(grant_ids=[unverified.pk])  # its thread died

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Item = new.get_model("grants", "VerificationBatchItem")
    Batch = new.get_model("grants", "VerificationBatch")

    items = list(
        Item.objects.filter(batch_id=finished.pk)
        .order_by("pk")
        .values_list("grant_id", "grant_label", "state", "verification_id")
    )
    assert items == [
        (verified.pk, "verified-role in piyo", "verified", verification.pk),
        (unverified.pk, "unverified-role in piyo", "skipped", None),
        (None, "grant #9999", "skipped", None),
    ]
    assert Batch.objects.get(pk=finished.pk).actor_name == "alice"
    abandoned = Batch.objects.get(pk=abandoned.pk)
    assert abandoned.actor_name == "system"
    assert abandoned.finished_at is not None
    assert Item.objects.get(batch_id=abandoned.pk).note == "No result was recorded."


def test_going_back_restores_the_grant_id_lists(executor: MigrationExecutor) -> None:
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Account = new.get_model("grants", "AwsAccount")
    Grant = new.get_model("grants", "Grant")
    Batch = new.get_model("grants", "VerificationBatch")
    Item = new.get_model("grants", "VerificationBatchItem")
    piyo = Account.objects.create(account_id="111122223333", name="piyo")
    grants = [make_grant(Grant, piyo, f"role-{n}") for n in range(2)]
    batch = Batch.objects.create(finished_at=timezone.now())
    for grant in grants:
        Item.objects.create(batch=batch, grant=grant, grant_label=grant.role_name)
    Item.objects.create(batch=batch, grant=None, grant_label="deleted")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    restored = old.get_model("grants", "VerificationBatch").objects.get(pk=batch.pk)
    assert restored.grant_ids == [g.pk for g in grants]


def test_passed_verifications_split_by_who_acted_and_fold_back(
    executor: MigrationExecutor,
) -> None:
    before, after = (
        [("grants", "0007_verification_batch_items")],
        [("grants", "0008_verification_outcomes")],
    )
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Account = old.get_model("grants", "AwsAccount")
    Grant = old.get_model("grants", "Grant")
    Verification = old.get_model("grants", "Verification")
    grant = make_grant(Grant, Account.objects.create(account_id="111122223333", name="piyo"), "r")
    acted = {
        "grantee": "The grantee (profile hoge-app)",
        "portal": "The portal in hoge (Assume a hub role)",
        "nobody": "",
        "failed": "The portal in hoge (Assume a hub role)",
    }
    rows = {
        label: Verification.objects.create(
            grant=grant,
            actor_name="alice",
            started_at=timezone.now(),
            outcome="failed" if label == "failed" else "passed",
            acted_as=acted_as,
        ).pk
        for label, acted_as in acted.items()
    }

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("grants", "Verification")
    outcomes = {label: new.objects.get(pk=pk).outcome for label, pk in rows.items()}
    assert outcomes == {
        "grantee": "passed_grantee",
        "portal": "passed_portal",
        "nobody": "static_only",
        "failed": "failed",
    }

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("grants", "Verification")
    assert sorted(old.objects.values_list("outcome", flat=True)) == [
        "failed",
        "passed",
        "passed",
        "passed",
    ]
