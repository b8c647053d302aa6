from django.urls import path

from chatroom import emoji_data, scheduled_views, views

app_name = "chatroom"

urlpatterns = [
    path("", views.room_list, name="list"),
    path("emoji.json", emoji_data.emoji_view, name="emoji"),
    path("search/", views.search, name="search"),
    path("threads/", views.threads, name="threads"),
    path("scheduled/", scheduled_views.scheduled_page, name="scheduled"),
    path("scheduled/<uuid:scheduled_id>/edit", scheduled_views.scheduled_edit, name="scheduled_edit"),
    path("scheduled/<uuid:scheduled_id>/cancel", scheduled_views.scheduled_cancel, name="scheduled_cancel"),
    path("rooms/<uuid:room_id>/", views.room_view, name="room"),
    path("rooms/<uuid:room_id>/join", views.room_join, name="join"),
    path("rooms/<uuid:room_id>/leave", views.room_leave, name="leave"),
    path("rooms/<uuid:room_id>/invite", views.room_invite_user, name="invite_user"),
    path("rooms/<uuid:room_id>/requests/", views.join_requests, name="join_requests"),
    path("dm/", views.dm_open, name="dm_open"),
    path("people/<uuid:user_id>/", views.person, name="person"),
    path("invite/<str:code>/", views.invite_page, name="invite"),
    path("attachments/<uuid:attachment_id>/", views.attachment, name="attachment"),
]
