"""Discovery across every registered account: the run, its failures, risk, filters, import."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from grants import aws, policies
from grants.models import (
    AccessMethod,
    AuditAction,
    AuditEvent,
    DiscoveryAccountState,
    DiscoveryRun,
    Grant,
    OrgStatus,
)
from grants.services import discovery, discovery_runs
from grants.services.discovery import DiscoveredRole, role_risk
from grants.services.discovery_runs import FindingFilters, discovery_findings

from .conftest import make_account
from .test_services_drift_discovery import make_role

pytestmark = pytest.mark.django_db

HOGE_ROOT = "arn:aws:iam::444455556666:root"
PIYO_ROOT = "arn:aws:iam::111122223333:root"


@pytest.fixture
def estate(enforcing, piyo, hoge):  # type: ignore[no-untyped-def]
    """piyo (Root/Workloads/Prod) and hoge (Root/Workloads/Dev) readable; vendor's hub
    role is one the portal may not assume (AccessDenied); an external account; one that
    left the organization."""
    piyo.ou_path, hoge.ou_path = "Root/Workloads/Prod", "Root/Workloads/Dev"
    piyo.save()
    hoge.save()
    make_role(piyo, "legacy-reader", policies.trust_policy(principal_arn=HOGE_ROOT))
    make_role(
        piyo,
        "partner-audit",
        policies.trust_policy(principal_arn="arn:aws:iam::777788889999:root", external_id="p-1"),
    )
    make_role(
        hoge,
        "piyo-deployer",
        policies.trust_policy(principal_arn="arn:aws:iam::111122223333:user/deployer"),
    )
    vendor = make_account(
        account_id="222233334444",
        name="vendor",
        hub_role_name="NoSuchAccessRole",
        ou_path="Root/Vendors",
    )
    external = make_account(
        account_id="999988887777",
        name="partner",
        access_method=AccessMethod.EXTERNAL,
        hub_role_name="",
    )
    gone = make_account(
        account_id="333344445555", name="old-team", org_status=OrgStatus.LEFT, ou_path="Root/Old"
    )
    return {"piyo": piyo, "hoge": hoge, "vendor": vendor, "external": external, "gone": gone}


def run_now(django_capture_on_commit_callbacks, actor=None) -> DiscoveryRun:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        run = discovery_runs.discovery_run_start(actor=actor)
    run.refresh_from_db()
    return run


def test_a_run_reads_every_managed_account_and_records_a_failure_without_stopping(
    estate, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    run = run_now(django_capture_on_commit_callbacks)
    assert run.finished_at is not None
    rows = {row.account_name: row for row in run.accounts.all()}
    assert rows["piyo"].state == rows["hoge"].state == DiscoveryAccountState.READ
    assert rows["piyo"].roles_read >= 3
    failed = rows["vendor"]
    assert failed.state == DiscoveryAccountState.FAILED
    detail = failed.error_detail
    assert detail is not None
    assert (detail.service, detail.operation, detail.code) == ("sts", "AssumeRole", "AccessDenied")
    assert detail.http_status == 403 and detail.request_id
    assert rows["partner"].state == DiscoveryAccountState.SKIPPED
    assert "External account" in rows["partner"].note
    assert rows["old-team"].state == DiscoveryAccountState.SKIPPED
    assert "left the organization" in rows["old-team"].note
    names = {(f.account_number, f.role_name) for f in run.findings.all()}
    assert ("111122223333", "legacy-reader") in names
    assert ("444455556666", "piyo-deployer") in names
    assert not run.findings.filter(account_number="222233334444").exists()


def test_the_risk_of_each_finding_follows_its_trust(
    estate, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    run = run_now(django_capture_on_commit_callbacks)
    found = {f.role_name: f for f in run.findings.all()}
    assert found["legacy-reader"].risk == "high"
    assert "whole account 444455556666" in found["legacy-reader"].risk_reasons[0]
    # An unregistered partner behind an external ID: worth a look, not alarming.
    assert found["partner-audit"].risk == "medium"
    assert "not registered in the portal" in found["partner-audit"].risk_reasons[0]
    assert "external ID" in found["partner-audit"].risk_reasons[0]
    assert found["piyo-deployer"].risk == "low"


def test_findings_filter_by_ou_prefix_risk_account_and_management(
    estate, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    run = run_now(django_capture_on_commit_callbacks)

    def names(**filters: object) -> set[str]:
        return {f.role_name for f in discovery_findings(run=run, filters=FindingFilters(**filters))}  # type: ignore[arg-type]

    workloads = names(ou="Root/Workloads")
    assert {"legacy-reader", "piyo-deployer"} <= workloads
    prod = names(ou="Root/Workloads/Prod/")
    assert "legacy-reader" in prod and "piyo-deployer" not in prod
    assert names(ou="Root/Work") == set()  # whole OU names only
    assert names(risk="low") == {"piyo-deployer"}
    assert "piyo-deployer" not in names(account=estate["piyo"].pk)
    # The hub roles are the portal's access roles: listed, never "unmanaged".
    assert "OrganizationAccountAccessRole" in names(managed="access")
    assert "OrganizationAccountAccessRole" not in names(managed="unmanaged")
    assert names(managed="grant") == set()


def test_findings_are_listed_riskiest_first(estate, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    run = run_now(django_capture_on_commit_callbacks)
    risks = [f.risk for f in discovery_findings(run=run, filters=FindingFilters())]
    order = {"high": 0, "medium": 1, "low": 2}
    assert risks == sorted(risks, key=order.__getitem__)
    assert risks[0] == "high" and risks[-1] == "low"


def test_an_imported_finding_shows_its_grant_and_leaves_unmanaged(
    estate, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    run = run_now(django_capture_on_commit_callbacks)
    finding = run.findings.get(role_name="legacy-reader")
    outcomes = discovery_runs.discovery_findings_import(findings=[finding], actor=None)
    assert outcomes[0].problem == ""
    grant = outcomes[0].grant
    assert grant is not None and grant.imported_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.GRANT_IMPORT, grant=grant).exists()
    listed = discovery_findings(run=run, filters=FindingFilters(managed="grant"))
    assert [(f.role_name, f.grant_pk) for f in listed] == [("legacy-reader", grant.pk)]
    unmanaged = discovery_findings(run=run, filters=FindingFilters(managed="unmanaged"))
    assert "legacy-reader" not in {f.role_name for f in unmanaged}


def test_a_batch_import_goes_on_past_a_refused_role(
    estate, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    run = run_now(django_capture_on_commit_callbacks)
    hub = run.findings.filter(role_name="OrganizationAccountAccessRole").first()
    deployer = run.findings.get(role_name="piyo-deployer")
    outcomes = discovery_runs.discovery_findings_import(findings=[hub, deployer], actor=None)
    assert "the role the portal acts through" in outcomes[0].problem
    assert outcomes[0].grant is None
    assert outcomes[1].grant is not None and outcomes[1].problem == ""
    assert Grant.objects.count() == 1


def test_a_batch_import_records_an_aws_failure_per_role(
    estate, django_capture_on_commit_callbacks, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    run = run_now(django_capture_on_commit_callbacks)
    finding = run.findings.get(role_name="legacy-reader")

    def throttled(*args: object, **kwargs: object) -> None:
        raise aws.AwsError(
            aws.AwsErrorDetail(
                service="iam", operation="ListRoles", message="Rate exceeded", code="Throttling"
            )
        )

    monkeypatch.setattr(discovery.aws, "roles", throttled)
    outcomes = discovery_runs.discovery_findings_import(findings=[finding], actor=None)
    assert outcomes[0].problem == "iam:ListRoles failed: Throttling: Rate exceeded"
    assert not Grant.objects.exists()


def test_a_batch_import_is_bounded(estate, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    run = run_now(django_capture_on_commit_callbacks)
    finding = run.findings.first()
    too_many = [finding] * (discovery_runs.IMPORT_BATCH_MAX + 1)
    with pytest.raises(ValueError, match="at most"):
        discovery_runs.discovery_findings_import(findings=too_many, actor=None)


def test_only_grant_managers_start_a_run(estate, django_user_model) -> None:  # type: ignore[no-untyped-def]
    viewer = django_user_model.objects.create_user(username="viewer")
    with pytest.raises(PermissionDenied):
        discovery_runs.discovery_run_start(actor=viewer)
    assert not DiscoveryRun.objects.exists()


def test_a_run_with_nothing_to_read_finishes_at_once(db) -> None:  # type: ignore[no-untyped-def]
    make_account(access_method=AccessMethod.EXTERNAL, hub_role_name="")
    run = discovery_runs.discovery_run_start(actor=None)
    assert run.finished_at is not None
    assert [row.state for row in run.accounts.all()] == [DiscoveryAccountState.SKIPPED]


def test_a_run_is_read_once_even_if_its_task_runs_twice(
    estate, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    run = run_now(django_capture_on_commit_callbacks)
    count = run.findings.count()
    assert discovery_runs.discovery_run_execute(run_id=run.pk) == "claimed"
    assert run.findings.count() == count


def test_an_unexpected_error_closes_the_run_with_the_accounts_it_left(estate, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run = discovery_runs.discovery_run_start(actor=None)  # on_commit not run: still queued

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(discovery_runs, "discovered_roles", broken)
    with pytest.raises(RuntimeError):
        discovery_runs.discovery_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.finished_at is not None
    states = set(run.accounts.values_list("state", flat=True))
    assert DiscoveryAccountState.QUEUED not in states
    assert DiscoveryAccountState.RUNNING not in states
    assert run.accounts.filter(note__contains="stopped before this account").exists()


def role(principals: list[str], external: list[str], guarded_by: list[str] | None = None):  # type: ignore[no-untyped-def]
    return DiscoveredRole(
        name="r",
        arn="arn:aws:iam::111122223333:role/r",
        principals=principals,
        external_accounts=external,
        guarded_by=guarded_by or [],
    )


@pytest.mark.parametrize(
    ("principals", "external", "guards", "expected", "reason"),
    [
        (["*"], [], [], "high", 'wildcard "*"'),
        ([HOGE_ROOT], ["444455556666"], [], "high", "no external ID, MFA or organization"),
        (["444455556666"], ["444455556666"], [], "high", "whole account 444455556666"),
        (
            ["arn:aws:iam::777788889999:role/x"],
            ["777788889999"],
            [],
            "high",
            "not registered in the portal, with no condition",
        ),
        ([HOGE_ROOT], ["444455556666"], ["organization"], "medium", "guarded by organization"),
        (["AROAEXAMPLEDELETED1234"], [], [], "medium", "deleted principal"),
        (["arn:aws:iam::444455556666:user/hoge-app"], ["444455556666"], [], "low", "named"),
    ],
)
def test_role_risk_levels_and_reasons(principals, external, guards, expected, reason) -> None:  # type: ignore[no-untyped-def]
    level, reasons = role_risk(
        role=role(principals, external, guards),
        registered_account_ids={"111122223333", "444455556666"},
    )
    assert level == expected
    assert any(reason in r for r in reasons), reasons


def test_an_organization_condition_is_a_guard_in_discovery(enforcing, piyo) -> None:  # type: ignore[no-untyped-def]
    trust = policies.trust_policy(principal_arn=HOGE_ROOT)
    trust["Statement"][0]["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    make_role(piyo, "org-only", trust)
    found = {r.name: r for r in discovery.account_discover(account=piyo)}
    assert found["org-only"].guarded_by == ["organization"]
    assert found["org-only"].risks == []


def test_ou_prefixes_lists_every_ancestor() -> None:
    assert discovery_runs.ou_prefixes(["Root/Workloads/Prod", "Root/Vendors", ""]) == [
        "Root",
        "Root/Vendors",
        "Root/Workloads",
        "Root/Workloads/Prod",
    ]


@pytest.fixture
def hung_aws(settings, monkeypatch: pytest.MonkeyPatch, hung_endpoint: str):  # type: ignore[no-untyped-def]
    """The portal pointed at an endpoint on 127.0.0.1 that never answers."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.AWS_ENDPOINT_URL = hung_endpoint
    aws.reset()
    yield hung_endpoint
    aws.reset()


def ten_accounts() -> None:
    for i in range(10):
        make_account(account_id=f"10000000000{i}", name=f"member-{i}")


def test_hung_accounts_are_read_concurrently_each_within_its_deadline(
    hung_aws, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    import time

    ten_accounts()
    monkeypatch.setattr(discovery_runs, "ACCOUNT_DEADLINE_SECONDS", 0.5)
    started = time.monotonic()
    run = run_now(django_capture_on_commit_callbacks)
    seconds = time.monotonic() - started
    # 10 accounts, 8 at a time, 0.5 s each: two rounds, not ten.
    assert seconds < 3.5, seconds
    assert run.finished_at is not None
    details = [row.error_detail for row in run.accounts.all()]
    assert len(details) == 10
    assert all(d is not None and d.client_error == "DeadlineExceeded" for d in details), details


def test_without_concurrency_the_same_run_takes_a_deadline_per_account(
    hung_aws, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """The control for the test above: one account at a time."""
    import time

    ten_accounts()
    monkeypatch.setattr(discovery_runs, "ACCOUNT_DEADLINE_SECONDS", 0.5)
    monkeypatch.setattr(discovery_runs, "CONCURRENCY", 1)
    started = time.monotonic()
    run_now(django_capture_on_commit_callbacks)
    assert time.monotonic() - started >= 4.5


def test_a_new_run_closes_one_abandoned_long_ago(estate, settings) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    old = discovery_runs.discovery_run_start(actor=None)  # on_commit not run: nothing reads it
    fresh = discovery_runs.discovery_run_start(actor=None)
    assert DiscoveryRun.objects.filter(finished_at__isnull=True).count() == 2  # not stale yet
    DiscoveryRun.objects.filter(pk=old.pk).update(
        created_at=timezone.now()
        - timedelta(minutes=settings.XACCT_BATCH_ITEM_STALE_MINUTES, seconds=1)
    )
    discovery_runs.discovery_run_start(actor=None)
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.finished_at is not None and fresh.finished_at is None
    notes = set(old.accounts.filter(state="failed").values_list("note", flat=True))
    assert len(notes) == 1 and notes.pop().startswith("Abandoned: not read")
    assert not old.accounts.filter(state__in=["queued", "running"]).exists()
