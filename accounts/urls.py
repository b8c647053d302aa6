from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import dnd_views, unsubscribe, views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("password/change/", views.password_change, name="password_change"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("profile/", views.profile, name="profile"),
    path("language/", views.language_switch, name="language_switch"),
    path("profile/dnd/", dnd_views.dnd_save, name="profile_dnd"),
    path("devices/", views.devices, name="devices"),
    path("email/unsubscribe/<str:token>/", unsubscribe.unsubscribe_view, name="email_unsubscribe"),
    path("devices/<uuid:session_id>/revoke/", views.device_revoke, name="device_revoke"),
    path("devices/revoke-others/", views.devices_revoke_others, name="devices_revoke_others"),
]
