"""The chat sidebar as a template tag, so every page that shows it (the chat
pages, the home dashboard) renders the same markup from chatroom.sidebar;
and the words the chat pages show for a presence status and a room role,
in the reader's language (issue 19)."""

from django import template
from django.utils.translation import pgettext

from chatroom import sidebar

register = template.Library()


@register.inclusion_tag("chatroom/_sidebar.html", takes_context=True)
def chat_sidebar(context):
    request = context["request"]
    room = context.get("room")
    data = context.get("sidebar") or sidebar.sidebar(request.user)
    return {**data, "current": str(room.id) if getattr(room, "id", None) else None,
            "path": request.path}


@register.filter
def presence_label(status: str) -> str:
    """"online" / "away" / "offline" (realtime.presence) as the reader reads it."""
    labels = {"online": pgettext("presence", "online"), "away": pgettext("presence", "away"),
              "offline": pgettext("presence", "offline")}
    return labels.get(status, labels["offline"])


@register.filter
def role_label(role: str) -> str:
    """A room role (RoomMember.Role's value) as the reader reads it."""
    labels = {"owner": pgettext("room role", "Owner"), "admin": pgettext("room role", "Admin"),
              "moderator": pgettext("room role", "Moderator"), "member": pgettext("room role", "Member")}
    return labels.get(role, role)


@register.simple_tag
def list_separator() -> str:
    """What joins names in a list: ", " in English, "、" in Chinese."""
    return pgettext("list separator", ", ")
