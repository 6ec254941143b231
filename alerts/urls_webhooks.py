from django.urls import path

from . import views_webhooks as views

urlpatterns = [
    path("webhooks/", views.webhook_list, name="webhook_list"),
    path("webhooks/new/", views.webhook_create, name="webhook_create"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:pk>/edit/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook_delete"),
    path("webhooks/<int:pk>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:pk>/test/", views.webhook_test, name="webhook_test"),
]
