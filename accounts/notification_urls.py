"""The notifications page, mounted at /notifications/ (config/urls.py)."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.notification_list, name="notifications"),
    path("read-all/", views.notification_read_all, name="notifications_read_all"),
    path("<uuid:notification_id>/<str:action>/", views.notification_action, name="notification_action"),
]
