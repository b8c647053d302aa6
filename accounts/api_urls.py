from django.urls import path

from accounts import api, dnd_api

urlpatterns = [
    path("auth/register", api.RegisterView.as_view(), name="api-register"),
    path("auth/login", api.LoginView.as_view(), name="api-login"),
    path("auth/logout", api.LogoutView.as_view(), name="api-logout"),
    path("auth/logout-all", api.LogoutAllView.as_view(), name="api-logout-all"),
    path("auth/sessions", api.SessionListView.as_view(), name="api-sessions"),
    path("auth/sessions/<uuid:session_id>", api.SessionDetailView.as_view(), name="api-session"),
    path("me", api.MeView.as_view(), name="api-me"),
    path("me/dnd", dnd_api.DndView.as_view(), name="api-me-dnd"),
    path("api-keys", api.ApiKeyListView.as_view(), name="api-keys"),
    path("api-keys/<uuid:key_id>", api.ApiKeyDetailView.as_view(), name="api-key"),
    path("notifications/", api.NotificationListView.as_view(), name="api-notifications"),
    path("notifications/read-all", api.NotificationReadAllView.as_view(), name="api-notifications-read-all"),
    # str, not uuid: a malformed id gets the contract's 404 body, not Django's page.
    path("notifications/<str:notification_id>/read", api.NotificationReadView.as_view(), name="api-notification-read"),
    path("notifications/<str:notification_id>/archive", api.NotificationArchiveView.as_view(),
         name="api-notification-archive"),
]
