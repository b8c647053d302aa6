from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/register", api.RegisterView.as_view(), name="api-register"),
    path("auth/login", api.LoginView.as_view(), name="api-login"),
    path("auth/logout", api.LogoutView.as_view(), name="api-logout"),
    path("auth/logout-all", api.LogoutAllView.as_view(), name="api-logout-all"),
    path("auth/sessions", api.SessionListView.as_view(), name="api-sessions"),
    path("auth/sessions/<uuid:session_id>", api.SessionDetailView.as_view(), name="api-session"),
    path("me", api.MeView.as_view(), name="api-me"),
    path("api-keys", api.ApiKeyListView.as_view(), name="api-keys"),
    path("api-keys/<uuid:key_id>", api.ApiKeyDetailView.as_view(), name="api-key"),
]
