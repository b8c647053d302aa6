"""Which language a person reads the product in (issue 19), in one place:

1. a signed-in user's profile language, on every device and face (pages,
   API, socket, mail);
2. otherwise the language cookie set by the switcher, then the browser's
   ``Accept-Language`` (Django's LocaleMiddleware, which runs first);
3. otherwise English.

The pages get (1) from ProfileLanguageMiddleware, after authentication; the
API's token and API-key users are known only once DRF authenticates them, so
its authentication classes call ``activate_for`` themselves."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.utils import translation


def language_of(user) -> str | None:
    """The user's profile language, or None (anonymous, or no profile)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        language = user.profile.language
    except ObjectDoesNotExist:  # no profile row yet: the request's language applies
        return None
    return language if language in dict(settings.LANGUAGES) else None


def activate_for(user, request=None) -> None:
    """Read the rest of this request in the user's profile language."""
    language = language_of(user)
    if language:
        translation.activate(language)
        if request is not None:
            request.LANGUAGE_CODE = language


class ProfileLanguageMiddleware:
    """After AuthenticationMiddleware: a signed-in user's profile language
    wins over the cookie and Accept-Language. The language active before
    (LocaleMiddleware's) is active again after the response, so one user's
    language never lingers in the thread for the next code it runs (a task
    run eagerly, a test); the response says which one it was in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        before = translation.get_language()
        try:
            activate_for(getattr(request, "user", None), request)
            response = self.get_response(request)
            response.headers.setdefault("Content-Language", translation.get_language())
            return response
        finally:
            translation.activate(before) if before else translation.deactivate()
