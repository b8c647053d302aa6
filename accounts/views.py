"""Account pages: sign up, log in/out, passwords, profile and "My devices".
Thin: each calls one service or selector."""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from rest_framework.request import Request

from accounts import dates, notifications, profile_sections, selectors, services
from accounts.authentication import client_ip
from accounts.forms import (
    BACKEND,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    ResetRequestForm,
    ResetSetPasswordForm,
    SignupForm,
)
from accounts.middleware import current_device_session
from config.api import CursorPage, InvalidCursor
from core.errors import ApplicationError, NotFound


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(registration_open=settings.REGISTRATION_OPEN, **kwargs)


def signup(request):
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    if not settings.REGISTRATION_OPEN:
        return render(request, "accounts/signup_closed.html", status=403)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        if user is not None:
            auth.login(request, user, backend=BACKEND)
            messages.success(request, _("Welcome, %(name)s! Your account is ready.") % {"name": user.username})
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def password_change(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        current = current_device_session(request)
        user = form.save(user=request.user, current=current)
        if user is not None:
            # Keep this browser signed in (the new password changes the
            # session hash); every other session was ended by the service.
            auth.update_session_auth_hash(request, user)
            if current is not None:
                services.device_session_touch(session=current, session_key=request.session.session_key)
            messages.success(request, _("Your password was changed. Your other devices were signed out."))
            return redirect("profile")
    return render(request, "accounts/password_change.html", {"form": form})


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "registration/password_reset_form.html"
    form_class = ResetRequestForm
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        # The page answers the same either way, so it reveals nothing.
        if not services.password_reset_request(email=form.cleaned_data["email"], ip=client_ip(self.request)):
            return redirect(self.success_url)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = ResetSetPasswordForm
    success_url = reverse_lazy("password_reset_complete")


@login_required
def profile(request):
    current = selectors.profile_of(request.user)
    form = ProfileForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        if form.save_through_service(actor=request.user, user=request.user) is not None:
            messages.success(request, _("Your profile was saved."))
            return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form, "sections": profile_sections.render_all(request)})


@login_required
def devices(request):
    current = current_device_session(request)
    sessions = list(selectors.sessions_of(user=request.user))
    for session in sessions:
        session.is_current = current is not None and session.pk == current.pk
    with timezone.override(dates.zone_of(request.user)):
        return render(request, "accounts/devices.html", {"sessions": sessions, "current": current})


@login_required
@require_POST
def device_revoke(request, session_id):
    session = selectors.session_of(user=request.user, session_id=session_id)
    if session is None:
        raise Http404(_("No such device."))
    current = current_device_session(request)
    try:
        services.session_revoke(actor=request.user, session=session)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("devices")
    if current is not None and current.pk == session.pk:
        auth.logout(request)
        return redirect(settings.LOGOUT_REDIRECT_URL)
    messages.success(request, _("The device was signed out."))
    return redirect("devices")


@login_required
@require_POST
def devices_revoke_others(request):
    current = current_device_session(request)
    if current is None:
        messages.error(request, _("This browser's session is not tracked; log in again."))
        return redirect("devices")
    count = services.sessions_revoke_others(actor=request.user, current=current)
    messages.success(request, ngettext("Signed out %(count)s other device.", "Signed out %(count)s other devices.",
                                      count) % {"count": count})
    return redirect("devices")


# --------------------------------------------------------------------------- notifications

NOTIFICATION_PAGE_SIZE = 50
NOTIFICATION_ACTIONS = {
    "read": lambda user, pk: notifications.notification_mark_read(user=user, notification_id=pk),
    "archive": lambda user, pk: notifications.notification_archive(user=user, notification_id=pk),
    "unarchive": lambda user, pk: notifications.notification_archive(user=user, notification_id=pk, archived=False),
}


@login_required
def notification_list(request):
    """The inbox (``?show=unread`` for unread only, ``?show=archived`` for
    the archive), newest first, paged by the same cursor as the API."""
    show = request.GET.get("show", "all")
    if show not in ("all", "unread", "archived"):
        show = "all"
    qs = notifications.notifications_for(user=request.user, unread=show == "unread", archived=show == "archived")
    paginator = CursorPage()
    paginator.page_size = NOTIFICATION_PAGE_SIZE
    paginator.ordering = ("-created_at", "-id")
    drf_request = _drf_request(request)
    try:
        items = paginator.paginate_queryset(qs, drf_request)
    except InvalidCursor:  # a stale or mangled ?cursor=: start over rather than fail
        return redirect(f"{request.path}?show={show}")
    with timezone.override(dates.zone_of(request.user)):
        return render(request, "accounts/notifications.html", {
            "items": items, "show": show, "next_cursor": paginator.get_next_link(),
        })


def _drf_request(request):
    # CursorPage reads ?cursor= and ?limit= through DRF's request wrapper.
    return Request(request)


@login_required
@require_POST
def notification_action(request, notification_id, action):
    handler = NOTIFICATION_ACTIONS.get(action)
    if handler is None:
        raise Http404
    try:
        notification = handler(request.user, notification_id)
    except NotFound:
        raise Http404(_("No such notification.")) from None
    # "Open" posts read with a target: follow the notification's own link,
    # but only to a path on this site.
    target = notification.data.get("url") if request.POST.get("open") else None
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(_back(request))


@login_required
@require_POST
def notification_read_all(request):
    count = notifications.notification_mark_all_read(user=request.user)
    messages.success(request, ngettext("Marked %(count)s notification read.", "Marked %(count)s notifications read.",
                                      count) % {"count": count})
    return redirect(_back(request))


def _back(request) -> str:
    show = request.POST.get("show", "all")
    url = reverse("notifications")
    return f"{url}?show={show}" if show in ("unread", "archived") else url


@require_POST
def language_switch(request):
    """The language switcher (nav and login page): the language cookie for
    this browser and, for a signed-in user, the profile's language, so that
    it follows them to every device. Back to ``next`` when it is this site's."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        messages.error(request, _("Choose one of the languages offered."))
        language = None
    elif request.user.is_authenticated:
        services.profile_update(actor=request.user, user=request.user, language=language)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = "/"
    response = redirect(back)
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600,
                            samesite="Lax", secure=request.is_secure())
    return response
