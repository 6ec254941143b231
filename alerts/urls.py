from django.urls import path

from . import views

urlpatterns = [
    path("alerts/", views.alert_list, name="alert_list"),
    path("settings/alerts/", views.alert_settings, name="alert_settings"),
    path(
        "settings/alerts/<int:pk>/delete/",
        views.subscription_delete,
        name="subscription_delete",
    ),
    path("sandbox/mail/", views.sandbox_mail, name="sandbox_mail"),
    path("sandbox/mail/<str:message_id>/", views.sandbox_mail_message, name="sandbox_mail_message"),
    path("sandbox/mail/<str:message_id>/html/", views.sandbox_mail_html, name="sandbox_mail_html"),
]
