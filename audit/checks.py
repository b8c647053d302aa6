from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def audit_hmac_key_check(app_configs, **kwargs):
    if settings.AUDIT_HMAC_KEY_FROM_ENV:
        return []
    return [
        checks.Warning(
            "AUDIT_HMAC_KEY is not set; audit entries are signed with a key generated under VAR_DIR.",
            hint="Set AUDIT_HMAC_KEY (32+ characters, kept apart from SECRET_KEY) so every host signs "
            "with the same key and the key survives a lost VAR_DIR.",
            id="audit.W001",
        )
    ]
