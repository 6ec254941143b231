"""Bad input over HTTP gets a clear 4xx, never a 5xx: named cases, then hypothesis."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grants.middleware import INTEGER_MAX, INTEGER_MIN, out_of_range_integer

pytestmark = pytest.mark.django_db

TOO_BIG = "99999999999999999999"


def test_an_unknown_wizard_step_is_a_400_with_a_message(user_client) -> None:  # type: ignore[no-untyped-def]
    user_client.get(reverse("grant_create"))
    response = user_client.post(
        reverse("grant_create"), {"grant_wizard-current_step": "bogus_step"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "unknown wizard step" in body
    assert 'name="grant_wizard-current_step"' in body  # the first step, to continue from


def test_a_wizard_post_without_its_step_is_a_400(user_client) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("grant_create"), {"role-role_name": "x"})
    assert response.status_code == 400


def test_a_known_wizard_step_still_validates(user_client) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(
        reverse("grant_create"), {"grant_wizard-current_step": "role", "role-role_name": ""}
    )
    assert response.status_code == 200
    assert "unknown wizard step" not in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/grants/auditevent/?grant=" + TOO_BIG,
        "/admin/grants/auditevent/?account=-" + TOO_BIG,
        "/admin/grants/auditevent/?actor=9223372036854775808",
        "/admin/grants/auditevent/?grant__in=1," + TOO_BIG,
        "/admin/auth/user/?grant=" + TOO_BIG,
        "/audit/?grant=" + TOO_BIG,
        "/grants/?account=" + TOO_BIG,
        "/accounts/?page=" + TOO_BIG,
    ],
)
def test_an_out_of_range_integer_in_a_query_is_a_400(user_client, url: str) -> None:  # type: ignore[no-untyped-def]
    response = user_client.get(url)
    assert response.status_code == 400
    assert "out of range" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/grants/auditevent/?grant=9223372036854775807",
        "/admin/grants/auditevent/?grant=abc",
        "/grants/?account=abc",
        "/grants/?page=-1",
        "/audit/?page=abc",
        "/audit/?account=abc",
        "/accounts/?q=" + TOO_BIG,  # free text: a number to search for
    ],
)
def test_in_range_or_non_integer_query_values_are_not_refused(user_client, url: str) -> None:  # type: ignore[no-untyped-def]
    assert user_client.get(url).status_code in (200, 302)


def test_an_anonymous_visitor_is_sent_to_log_in_first(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/grants/?account=" + TOO_BIG)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_huge_ids_in_urls_are_404(user_client) -> None:  # type: ignore[no-untyped-def]
    for url in (
        f"/grants/{TOO_BIG}/",
        f"/accounts/{TOO_BIG}/",
        f"/verifications/batch/{TOO_BIG}/",
        f"/admin/grants/auditevent/{TOO_BIG}/change/",
    ):
        assert user_client.get(url).status_code in (302, 404), url


def test_the_range_check_parses_as_int_does() -> None:
    assert out_of_range_integer("grant", str(INTEGER_MAX + 1))
    assert out_of_range_integer("grant", str(INTEGER_MIN - 1))
    assert out_of_range_integer("grant", " 9_223_372_036_854_775_808 ")
    assert not out_of_range_integer("grant", str(INTEGER_MAX))
    assert not out_of_range_integer("grant", str(INTEGER_MIN))
    assert not out_of_range_integer("grant", "1e30")
    assert not out_of_range_integer("q", TOO_BIG)
    assert out_of_range_integer("pk__in", f"1,{TOO_BIG}")


# --- hypothesis over HTTP ------------------------------------------------------------
# Every form and every query parameter, sent through the test client as a logged-in
# superuser; whatever comes in, the answer is never a 5xx. No real AWS: moto in-process
# where a page reads AWS, and background work stays queued (the database backend,
# nothing runs it).

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

# Integers at and across the edges of a 64-bit column, and text that looks like one.
integers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        [
            "0",
            "-1",
            "1",
            str(2**63 - 1),
            str(2**63),
            str(-(2**63)),
            str(-(2**63) - 1),
            TOO_BIG,
            "1e30",
            " 7 ",
            "1_000",
            "٣",
            "0x10",
            "NaN",
            "inf",
        ]
    ),
)
text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", " ", "*", "/", "0" * 12, "\x00", "<script>", "%00", "../..", "a,b"]),
)
value = st.one_of(integers, text)
checkbox = st.sampled_from(["", "on", "off", "true", "\x00"])

PAGE_PARAMETERS = {
    "/": ["page"],
    "/accounts/": ["q", "page"],
    "/grants/": ["status", "account", "q", "sort", "page"],
    "/audit/": ["account", "grant", "actor", "action", "outcome", "format", "page"],
    "/grants/new/": ["step"],
    "/reauthenticate/": ["next"],
    "/admin/grants/auditevent/": ["action__exact", "outcome__exact", "grant", "account", "actor"],
    "/admin/grants/awsaccount/": ["access_method__exact", "partition__exact", "id__gt"],
    "/admin/grants/operation/": ["kind__exact", "state__exact", "grant"],
    "/admin/auth/user/": ["groups__id__exact", "is_staff__exact", "grant", "id__in"],
    "/admin/django_tasks_database/dbtaskresult/": ["priority__exact", "status__exact"],
    "/admin/axes/accessattempt/": ["attempt_time__gte", "attempt_time__lt", "failures_since_start"],
}
ADMIN_PARAMETERS = ["p", "o", "q", "e", "_facets", "all", "pk__in", "id__exact"]
# Pages with an id in the URL: the id itself is fuzzed too.
ID_PAGES = [
    "/accounts/{}/",
    "/accounts/{}/edit/",
    "/grants/{}/",
    "/grants/{}/operation/",
    "/grants/{}/revoke/",
    "/verifications/batch/{}/",
]


def assert_answered(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, (response.status_code, response.content[:500])


@pytest.fixture
def fuzz_client(client, django_user_model, settings, task_queue, piyo, hoge):  # type: ignore[no-untyped-def]
    """A superuser (cheap password hashing: the forms fuzz passwords), queued tasks only."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = django_user_model.objects.create_superuser(username="alice", password="correct-horse-9")
    client.force_login(user)
    client.user = user
    return client


@settings(FUZZ, max_examples=700)
@given(
    page=st.sampled_from(sorted(PAGE_PARAMETERS)),
    data=st.data(),
)
def test_no_query_parameter_of_any_page_gets_a_5xx(fuzz_client, page: str, data) -> None:  # type: ignore[no-untyped-def]
    names = PAGE_PARAMETERS[page] + (ADMIN_PARAMETERS if page.startswith("/admin/") else [])
    query = data.draw(
        st.dictionaries(st.one_of(st.sampled_from(names), st.text(max_size=10)), value, max_size=4),
        label="query",
    )
    assert_answered(fuzz_client.get(page, query))


@settings(FUZZ, max_examples=150)
@given(
    page=st.sampled_from(ID_PAGES),
    pk=st.integers(min_value=0, max_value=2**70),
    page_number=value,
)
def test_no_id_in_a_url_gets_a_5xx(fuzz_client, page: str, pk: int, page_number: str) -> None:  # type: ignore[no-untyped-def]
    assert_answered(fuzz_client.get(page.format(pk), {"page": page_number}))


ACCOUNT_FIELDS = [
    "account_id",
    "name",
    "owner_email",
    "default_region",
    "partition",
    "access_method",
    "profile_name",
    "hub_role_name",
    "hub_external_id",
]


@settings(FUZZ, max_examples=200)
@given(
    fields=st.fixed_dictionaries({}, optional={name: value for name in ACCOUNT_FIELDS}),
    edit=st.booleans(),
)
def test_no_account_form_post_gets_a_5xx(fuzz_client, piyo, fields, edit: bool) -> None:  # type: ignore[no-untyped-def]
    url = reverse("account_edit", args=[piyo.pk]) if edit else reverse("account_create")
    assert_answered(fuzz_client.post(url, fields))


WIZARD_FIELDS = {
    "role": ["trusting_account", "role_name", "role_path", "role_description"],
    "trusted": [
        "trusted_account",
        "trusted_aws_account_id",
        "trust_scope",
        "trusted_principal_arn",
        "external_id",
        "generate_external_id",
        "require_mfa",
    ],
    "permissions": [
        "permission_set",
        "region",
        "queue_names",
        "queue_actions",
        "allow_list_queues",
        "custom_policy_arns",
        "max_session_duration",
        "expires_at",
    ],
    "grantee": ["grantee_name", "user_policy_name", "grantee_profile"],
    "review": [],
}


@settings(FUZZ, max_examples=400)
@given(
    step=st.one_of(st.sampled_from(sorted(WIZARD_FIELDS)), text),
    goto=st.one_of(st.none(), st.sampled_from(sorted(WIZARD_FIELDS)), text),
    data=st.data(),
)
def test_no_wizard_post_gets_a_5xx(fuzz_client, aws_world, piyo, hoge, step, goto, data) -> None:  # type: ignore[no-untyped-def]
    fields = WIZARD_FIELDS.get(step, ["role_name"])
    # Account fields are usually a real account, so later steps get past the first.
    accounts = st.one_of(st.sampled_from([str(piyo.pk), str(hoge.pk)]), value)
    values = {
        f"{step}-{name}": data.draw(
            accounts if name.endswith("_account") else checkbox if "_" in name[-4:] else value,
            label=name,
        )
        for name in fields
        if data.draw(st.booleans(), label=f"send {name}")
    }
    values["grant_wizard-current_step"] = step
    if goto is not None:
        values["wizard_goto_step"] = goto
    assert_answered(fuzz_client.post(reverse("grant_create"), values))


@settings(FUZZ, max_examples=100)
@given(expires_at=value, pk=st.sampled_from(["grant", "missing"]))
def test_no_expiry_post_gets_a_5xx(fuzz_client, piyo, hoge, expires_at: str, pk: str) -> None:  # type: ignore[no-untyped-def]
    grant = fuzz_client_grant(piyo, hoge)
    target = grant.pk if pk == "grant" else grant.pk + 1000
    response = fuzz_client.post(reverse("grant_expiry", args=[target]), {"expires_at": expires_at})
    assert_answered(response)


def fuzz_client_grant(piyo, hoge):  # type: ignore[no-untyped-def]
    from grants.models import Grant, GrantStatus

    from .test_services_grants import draft

    grant = Grant.objects.filter(role_name="fuzzed").first()
    if grant is None:
        grant = draft(piyo, hoge, role_name="fuzzed")
        grant.status = GrantStatus.ACTIVE
        grant.save()
    return grant


@settings(FUZZ, max_examples=80)
@given(role_name=st.one_of(text, st.sampled_from(["OrganizationAccountAccessRole", "x" * 65])))
def test_no_import_post_gets_a_5xx(fuzz_client, aws_world, piyo, role_name: str) -> None:  # type: ignore[no-untyped-def]
    response = fuzz_client.post(reverse("account_import", args=[piyo.pk]), {"role_name": role_name})
    assert_answered(response)


@settings(FUZZ, max_examples=150)
@given(username=st.one_of(text, st.just("alice")), password=text, next_url=text)
def test_no_login_post_gets_a_5xx(fuzz_client, username: str, password: str, next_url: str) -> None:  # type: ignore[no-untyped-def]
    fuzz_client.logout()
    response = fuzz_client.post(
        reverse("login"), {"username": username, "password": password, "next": next_url}
    )
    assert_answered(response)


@settings(FUZZ, max_examples=150)
@given(password=text, next_url=text, query_next=text)
def test_no_reauthentication_post_gets_a_5xx(  # type: ignore[no-untyped-def]
    fuzz_client, password: str, next_url: str, query_next: str
) -> None:
    response = fuzz_client.post(
        reverse("reauthenticate") + "?" + urlencode({"next": query_next}),
        {"password": password, "next": next_url},
    )
    assert_answered(response)


@settings(FUZZ, max_examples=150)
@given(
    grant_ids=st.lists(st.one_of(integers, text), max_size=5),
    everything=st.booleans(),
)
def test_no_verify_selected_post_gets_a_5xx(  # type: ignore[no-untyped-def]
    fuzz_client, piyo, hoge, grant_ids: list[str], everything: bool
) -> None:
    grant = fuzz_client_grant(piyo, hoge)
    data: dict[str, object] = {"grant": [*grant_ids, str(grant.pk)]}
    if everything:
        data["all"] = "1"
    assert_answered(fuzz_client.post(reverse("grants_verify_bulk"), data))


@settings(FUZZ, max_examples=150)
@given(
    filters=st.fixed_dictionaries(
        {},
        optional={
            name: value for name in ["account", "grant", "actor", "action", "outcome", "page"]
        },
    ),
    csv=st.booleans(),
)
def test_no_audit_filter_gets_a_5xx(fuzz_client, filters: dict[str, str], csv: bool) -> None:  # type: ignore[no-untyped-def]
    if csv:
        filters["format"] = "csv"
    response = fuzz_client.get(reverse("audit_list"), filters)
    assert_answered(response)
    if csv and response.status_code == 200:
        b"".join(response.streaming_content)  # the export streams to its end


def test_a_page_number_that_is_not_one_shows_the_first_page_and_says_so(user_client) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get("/accounts/", {"page": "abc"}).content.decode()
    assert "There is no page abc; showing page 1 of 1." in body
    body = user_client.get("/grants/", {"page": "-1"}).content.decode()
    assert "There is no page -1; showing page 1 of 1." in body
    assert "There is no page" not in user_client.get("/audit/", {"page": "1"}).content.decode()


def test_a_malformed_filter_is_ignored_with_a_message(user_client) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get("/grants/", {"account": "abc"}).content.decode()
    assert "The account filter names no account; it was ignored." in body
    body = user_client.get("/audit/", {"grant": "-5", "account": "abc"}).content.decode()
    assert "The filters were not applied" in body
    assert "grant:" in body and "account:" in body
