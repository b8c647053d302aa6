"""Template context for every page."""

from __future__ import annotations

from django.utils.functional import cached_property

from accounts.notifications import badge_text, unread_count


class NotificationBadge:
    """The nav bar's unread badge. Lazy: the one capped, indexed COUNT
    (accounts.notifications.unread_count) runs only when a template reads it,
    and at most once per request."""

    def __init__(self, user):
        self._user = user

    @cached_property
    def count(self) -> int:
        return unread_count(user=self._user)

    @cached_property
    def text(self) -> str:
        return badge_text(self.count)

    def __bool__(self) -> bool:
        return self.count > 0


def notifications(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"notification_badge": NotificationBadge(user)}
