from django.urls import path

from . import views, views_discovery, views_map, views_org, views_review

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("map.svg", views_map.access_map_svg, name="access_map_svg"),
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/new/", views.account_create, name="account_create"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/edit/", views.account_edit, name="account_edit"),
    path("accounts/<int:pk>/check/", views.account_check, name="account_check"),
    path("accounts/<int:pk>/discover/", views_review.account_discover, name="account_discover"),
    path("accounts/<int:pk>/import/", views_review.account_import, name="account_import"),
    path("discovery/", views_discovery.discovery_home, name="discovery_home"),
    path("discovery/<int:pk>/", views_discovery.discovery_run, name="discovery_run"),
    path("discovery/<int:pk>/import/", views_discovery.discovery_import, name="discovery_import"),
    path(
        "accounts/<int:pk>/organization/",
        views_org.organization_accounts,
        name="organization_accounts",
    ),
    path(
        "accounts/<int:pk>/organization/register/",
        views_org.organization_register,
        name="organization_register",
    ),
    path(
        "accounts/<int:pk>/organization/sync/",
        views_org.organization_sync,
        name="organization_sync",
    ),
    path("grants/", views.grant_list, name="grant_list"),
    path("grants/new/", views.grant_create, name="grant_create"),
    path("grants/<int:pk>/", views.grant_detail, name="grant_detail"),
    path("grants/<int:pk>/retry/", views.grant_retry, name="grant_retry"),
    path("grants/<int:pk>/operation/", views.grant_operation, name="grant_operation"),
    path(
        "grants/<int:pk>/operation/resume/",
        views.grant_operation_resume,
        name="grant_operation_resume",
    ),
    path("grants/<int:pk>/verify/", views.grant_verify, name="grant_verify"),
    path("grants/<int:pk>/revoke/", views.grant_revoke, name="grant_revoke"),
    path("grants/<int:pk>/expiry/", views.grant_expiry, name="grant_expiry"),
    path("grants/<int:pk>/drift/", views.grant_drift, name="grant_drift"),
    path("grants/<int:pk>/reapply/", views_review.grant_reapply, name="grant_reapply"),
    path("grants/<int:pk>/adopt/", views_review.grant_adopt, name="grant_adopt"),
    path("grants/<int:pk>/complete/", views_review.grant_complete, name="grant_complete"),
    path("grants/verify/", views.grants_verify_bulk, name="grants_verify_bulk"),
    path("verifications/batch/<int:pk>/", views.verification_batch, name="verification_batch"),
    path("audit/", views.audit_list, name="audit_list"),
    path("reauthenticate/", views.reauthenticate, name="reauthenticate"),
]
