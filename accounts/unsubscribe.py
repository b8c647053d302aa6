"""One-click unsubscribe from missed-message mail (issue 18; RFC 8058).

Every mail carries ``List-Unsubscribe: <url>`` and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click``. The URL holds a signed token naming the user;
a POST to it (what mail clients send on "Unsubscribe") turns off
``profile.preferences.email_notifications`` at once, without a login. A GET
(a person who clicked the link, or a scanner that prefetched it) only shows
a page with the button, so prefetching never unsubscribes anyone."""

from __future__ import annotations

from django.core import signing
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from accounts.models import Profile, User

SALT = "accounts.unsubscribe.email_notifications"


def token_for(user) -> str:
    return signing.dumps({"u": str(user.pk)}, salt=SALT, compress=True)


def url_for(user) -> str:
    """The link's path (the mail prefixes SITE_URL)."""
    return reverse("email_unsubscribe", args=[token_for(user)])


def user_of(token: str) -> User | None:
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return User.objects.filter(pk=data.get("u")).first() if isinstance(data, dict) else None


def unsubscribe(user: User) -> None:
    """Turn the mails off through the one writer of profiles."""
    from accounts.services import profile_update

    profile, _created = Profile.objects.get_or_create(user=user)
    profile_update(actor=user, user=user, preferences={**(profile.preferences or {}), "email_notifications": False})


@csrf_exempt  # the POST comes from a mail client, with the token as its proof
def unsubscribe_view(request, token: str):
    user = user_of(token)
    if user is None:
        return HttpResponseBadRequest(_("This unsubscribe link is not valid."), content_type="text/plain; charset=utf-8")
    if request.method == "POST":
        unsubscribe(user)
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse(_("Unsubscribed."), content_type="text/plain; charset=utf-8")
        return render(request, "accounts/unsubscribed.html", {"done": True})
    return render(request, "accounts/unsubscribed.html", {"done": False, "token": token})
