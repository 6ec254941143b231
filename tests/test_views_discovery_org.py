"""Discovery across all accounts over HTTP: PRG, progress, filters, pages, import."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from grants import aws
from grants.models import (
    DiscoveryAccountState,
    DiscoveryFinding,
    DiscoveryRun,
    DiscoveryRunAccount,
    Grant,
)
from grants.services import authz

from .test_services_discovery_org import estate, hung_aws  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def start(client, capture):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        response = client.post(reverse("discovery_home"))
    return response


def rows(body: str) -> list[str]:
    """The role names of the findings listed, in order."""
    return re.findall(r'data-finding="([^"]*)"', body)


@pytest.fixture
def ran(user_client, estate, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]  # noqa: F811
    response = start(user_client, django_capture_on_commit_callbacks)
    run = DiscoveryRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == run.get_absolute_url()
    return run


def test_a_run_redirects_to_its_page_and_reloading_reads_no_aws(
    user_client, ran, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def no_call(*args: object, **kwargs: object) -> None:
        raise AssertionError("showing a run must not read AWS")

    monkeypatch.setattr(aws, "roles", no_call)
    first = user_client.get(ran.get_absolute_url())
    assert first.status_code == 200
    assert "no-store" in first["Cache-Control"]
    body = first.content.decode()
    assert {"legacy-reader", "partner-audit", "piyo-deployer"} <= set(rows(body))
    assert user_client.get(ran.get_absolute_url()).status_code == 200
    assert DiscoveryRun.objects.count() == 1


def test_the_page_shows_each_account_outcome_with_the_aws_error(user_client, ran) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get(ran.get_absolute_url()).content.decode()
    vendor = body[body.index('data-account="222233334444" data-state="failed"') :].split("</tr>")[0]
    assert "AccessDenied" in vendor and "sts:AssumeRole" in vendor and "403" in vendor
    partner = body[body.index('data-account="999988887777"') :].split("</tr>")[0]
    assert 'data-state="skipped"' in partner and "External account" in partner
    assert "left the organization" in body
    assert "1 failed" in body


def test_each_finding_shows_its_account_ou_principals_and_risk(user_client, ran) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get(ran.get_absolute_url()).content.decode()
    row = body[body.index('data-finding="legacy-reader"') :].split("</tr>")[0]
    assert 'data-risk="high"' in row
    assert "Root/Workloads/Prod" in row
    assert "arn:aws:iam::444455556666:root" in row
    assert "no external ID, MFA or organization condition" in row
    assert "not managed" in row and "Import as grant" in row
    hub = body[body.index('data-finding="OrganizationAccountAccessRole"') :].split("</tr>")[0]
    assert 'data-testid="portal-access-role"' in hub and "Import as grant" not in hub


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        ({"risk": "low"}, {"piyo-deployer"}, {"legacy-reader", "partner-audit"}),
        ({"ou": "Root/Workloads/Prod"}, {"legacy-reader"}, {"piyo-deployer"}),
        ({"ou": "Root/Workloads"}, {"legacy-reader", "piyo-deployer"}, set()),
        ({"managed": "access"}, {"OrganizationAccountAccessRole"}, {"legacy-reader"}),
        ({"managed": "unmanaged"}, {"legacy-reader"}, {"OrganizationAccountAccessRole"}),
    ],
)
def test_the_filters_narrow_the_results(user_client, ran, query, present, absent) -> None:  # type: ignore[no-untyped-def]
    found = set(rows(user_client.get(ran.get_absolute_url(), query).content.decode()))
    assert present <= found
    assert not (absent & found)


def test_the_account_filter_shows_one_account(user_client, ran, estate) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    body = user_client.get(ran.get_absolute_url(), {"account": estate["hoge"].pk}).content.decode()
    accounts = set(re.findall(r'data-finding="[^"]*" data-account="(\d+)"', body))
    assert accounts == {"444455556666"}


def test_an_invalid_filter_is_reported_and_ignored(user_client, ran) -> None:  # type: ignore[no-untyped-def]
    response = user_client.get(ran.get_absolute_url(), {"ou": "Root/Nowhere", "risk": "extreme"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "The filters were not applied" in body
    assert "legacy-reader" in rows(body)


def test_filters_matching_nothing_say_so(user_client, ran) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get(
        ran.get_absolute_url(), {"ou": "Root/Vendors"}
    ).content.decode()  # vendor failed: nothing read there
    assert 'data-testid="no-match"' in body
    assert rows(body) == []


def test_a_run_that_found_nothing_says_so(user_client, db) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    run = DiscoveryRun.objects.create(finished_at=timezone.now())
    body = user_client.get(run.get_absolute_url()).content.decode()
    assert 'data-testid="none-found"' in body


def many_findings(count: int) -> DiscoveryRun:
    from django.utils import timezone

    run = DiscoveryRun.objects.create(finished_at=timezone.now())
    row = DiscoveryRunAccount.objects.create(
        run=run,
        account_name="big",
        account_number="121212121212",
        ou_path="Root/Big",
        state=DiscoveryAccountState.READ,
    )
    DiscoveryFinding.objects.bulk_create(
        DiscoveryFinding(
            run=run,
            run_account=row,
            account_number="121212121212",
            ou_path="Root/Big",
            role_name=f"role-{i:03d}",
            role_arn=f"arn:aws:iam::121212121212:role/role-{i:03d}",
            principals=["arn:aws:iam::444455556666:root"],
            external_accounts=["444455556666"],
            risk="high",
            risk_reasons=["r"],
        )
        for i in range(count)
    )
    return run


def test_results_are_paged_and_pages_keep_the_filters(user_client, db) -> None:  # type: ignore[no-untyped-def]
    run = many_findings(30)
    first = user_client.get(run.get_absolute_url(), {"ou": "Root/Big"}).content.decode()
    assert len(rows(first)) == 25
    assert "Page 1 of 2" in first
    assert "ou=Root/Big&amp;page=2" in first
    second = user_client.get(run.get_absolute_url(), {"ou": "Root/Big", "page": 2}).content.decode()
    assert rows(second) == [f"role-{i:03d}" for i in range(25, 30)]


def test_progress_polls_until_the_run_finishes_then_reloads_the_page(user_client, db) -> None:  # type: ignore[no-untyped-def]
    run = DiscoveryRun.objects.create()
    DiscoveryRunAccount.objects.create(run=run, account_name="a", account_number="121212121212")
    open_ = user_client.get(run.get_absolute_url(), headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in open_.content.decode()
    assert "HX-Refresh" not in open_
    assert "0 of 1 accounts done" in open_.content.decode()
    from django.utils import timezone

    run.finished_at = timezone.now()
    run.save()
    done = user_client.get(run.get_absolute_url(), headers={"HX-Request": "true"})
    assert done["HX-Refresh"] == "true"
    assert "hx-trigger" not in done.content.decode()


def test_importing_one_role_leads_to_naming_its_grantee(user_client, ran) -> None:  # type: ignore[no-untyped-def]
    finding = ran.findings.get(role_name="legacy-reader")
    response = user_client.post(reverse("discovery_import", args=[ran.pk]), {"finding": finding.pk})
    grant = Grant.objects.get(role_name="legacy-reader")
    assert response["Location"] == reverse("grant_complete", args=[grant.pk])
    body = user_client.get(ran.get_absolute_url()).content.decode()
    row = body[body.index('data-finding="legacy-reader"') :].split("</tr>")[0]
    assert f"Grant #{grant.pk}" in row and "Import as grant" not in row


def test_a_refused_single_import_returns_to_the_filtered_results(user_client, ran) -> None:  # type: ignore[no-untyped-def]
    hub = ran.findings.filter(role_name="OrganizationAccountAccessRole").first()
    response = user_client.post(
        reverse("discovery_import", args=[ran.pk]), {"finding": hub.pk, "filters": "risk=high"}
    )
    assert response["Location"] == ran.get_absolute_url() + "?risk=high"
    body = user_client.get(response["Location"]).content.decode()
    assert "the role the portal acts through" in body
    assert not Grant.objects.exists()


def test_a_batch_import_is_confirmed_first_then_reports_each_role(user_client, ran) -> None:  # type: ignore[no-untyped-def]
    picked = list(ran.findings.filter(role_name__in=["legacy-reader", "piyo-deployer"]))
    url = reverse("discovery_import", args=[ran.pk])
    ids = [f.pk for f in picked]
    confirm = user_client.get(url, {"finding": ids, "filters": "ou=Root/Workloads"})
    body = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Import 2 roles as grants?" in body
    assert "arn:aws:iam::111122223333:role/legacy-reader" in body
    assert not Grant.objects.exists()
    # Without the confirmation a batch is not imported.
    user_client.post(url, {"finding": ids})
    assert not Grant.objects.exists()
    done = user_client.post(url, {"finding": ids, "confirm": "1", "filters": "ou=Root/Workloads"})
    assert done["Location"] == ran.get_absolute_url() + "?ou=Root%2FWorkloads"
    assert set(Grant.objects.values_list("role_name", flat=True)) == {
        "legacy-reader",
        "piyo-deployer",
    }
    page = user_client.get(done["Location"]).content.decode()
    assert "Imported 2 roles as grants" in page


def test_a_batch_larger_than_the_limit_is_refused(user_client, ran, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from grants import views_discovery

    monkeypatch.setattr(views_discovery, "IMPORT_BATCH_MAX", 1)
    ids = list(ran.findings.values_list("pk", flat=True)[:2])
    response = user_client.get(reverse("discovery_import", args=[ran.pk]), {"finding": ids})
    assert response.status_code == 302
    assert (
        "Import at most 1 roles at a time" in user_client.get(response["Location"]).content.decode()
    )


def test_an_empty_selection_goes_back_with_a_message(user_client, ran) -> None:  # type: ignore[no-untyped-def]
    response = user_client.get(reverse("discovery_import", args=[ran.pk]))
    assert response["Location"] == ran.get_absolute_url()
    assert "Select at least one role" in user_client.get(response["Location"]).content.decode()


def test_viewers_may_neither_run_see_nor_import(client, django_user_model, ran) -> None:  # type: ignore[no-untyped-def]
    viewer = django_user_model.objects.create_user(username="viewer")
    viewer.groups.add(Group.objects.get_or_create(name=authz.VIEWERS)[0])
    authz.roles_ensure()
    client.force_login(viewer)
    assert client.post(reverse("discovery_home")).status_code == 403
    assert client.get(reverse("discovery_home")).status_code == 403
    assert client.get(ran.get_absolute_url()).status_code == 403
    finding = ran.findings.get(role_name="legacy-reader")
    response = client.post(reverse("discovery_import", args=[ran.pk]), {"finding": finding.pk})
    assert response.status_code == 403
    assert DiscoveryRun.objects.count() == 1
    assert not Grant.objects.exists()


def test_the_home_page_lists_runs_and_the_nav_links_to_it(user_client, ran) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get(reverse("discovery_home")).content.decode()
    assert f'href="{ran.get_absolute_url()}"' in body
    assert "Discover across all accounts" in body
    assert f'href="{reverse("discovery_home")}">Discovery</a>' in body


@pytest.mark.django_db(transaction=True)  # the task runs on commit, inside the request
def test_a_run_inside_the_request_ends_by_the_request_deadline(
    user_client,
    hung_aws,  # noqa: F811
    settings,
) -> None:  # type: ignore[no-untyped-def]
    """With the immediate task backend the run happens in the POST: the request's AWS
    deadline bounds it, and each account unread by then says so."""
    import time

    from .conftest import make_account

    for i in range(3):
        make_account(account_id=f"20000000000{i}", name=f"member-{i}")
    settings.XACCT_REQUEST_AWS_DEADLINE_SECONDS = 1.5
    started = time.monotonic()
    response = user_client.post(reverse("discovery_home"))
    assert time.monotonic() - started < 4
    body = user_client.get(response["Location"]).content.decode()
    assert body.count('data-state="failed"') == 3
    assert "did not answer within 1.5 s" in body


@pytest.mark.django_db(transaction=True)  # db_worker closes the connection it used
def test_with_the_database_backend_a_worker_reads_the_accounts_and_the_page_follows(
    user_client,
    estate,  # noqa: F811
    task_queue,
) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("discovery_home"))
    run = DiscoveryRun.objects.get()
    assert run.task_id
    waiting = user_client.get(response["Location"]).content.decode()
    assert "0 of 5 accounts done" not in waiting  # two were skipped at once
    assert "2 of 5 accounts done" in waiting
    assert 'hx-trigger="every 1s"' in waiting
    task_queue.run()
    run.refresh_from_db()
    assert run.finished_at is not None
    done = user_client.get(response["Location"]).content.decode()
    assert "legacy-reader" in rows(done)
    assert "Finished: 2 accounts read, <strong>1 failed</strong>, 2 skipped." in done
