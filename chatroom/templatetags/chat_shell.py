"""The chat sidebar as a template tag, so every page that shows it (the chat
pages, the home dashboard) renders the same markup from chatroom.sidebar."""

from django import template

from chatroom import sidebar

register = template.Library()


@register.inclusion_tag("chatroom/_sidebar.html", takes_context=True)
def chat_sidebar(context):
    request = context["request"]
    room = context.get("room")
    data = context.get("sidebar") or sidebar.sidebar(request.user)
    return {**data, "current": str(room.id) if getattr(room, "id", None) else None,
            "path": request.path}
