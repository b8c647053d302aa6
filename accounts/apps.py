from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from realtime import registry


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, once models are loaded (Django's rule for ready()).
        from accounts import dnd_views, online_time, profile_sections, selectors
        from accounts import schema, signals  # noqa: F401  (OpenAPI schemes; login/logout receivers)

        # realtime sits below accounts: the socket learns device-session
        # logins, and presence whom to tell about online time, from here.
        registry.register_logins(registry.Logins(user_for_token=selectors.user_for_token,
                                                 login_alive=selectors.login_alive))
        profile_sections.register(dnd_views.profile_section)  # do not disturb, missed-message mail
        registry.register_online_time(registry.OnlineTime(session_started=online_time.session_started,
                                                          session_ended=online_time.session_ended))
