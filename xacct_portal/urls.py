"""Top-level URL configuration."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("alerts.urls_webhooks")),
    path("", include("alerts.urls")),
    path("", include("grants.urls")),
]

# Friendly pages (templates/403.html, 404.html, 500.html); htmx requests get a redirect.
handler403 = "xacct_portal.errors.permission_denied"
handler404 = "xacct_portal.errors.page_not_found"
handler500 = "xacct_portal.errors.server_error"
