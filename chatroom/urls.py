from django.urls import path

from chatroom import attention_views, room_settings_views, scheduled_views, views

app_name = "chatroom"

urlpatterns = [
    path("", views.room_list, name="list"),
    path("search/", views.search, name="search"),
    path("threads/", views.threads, name="threads"),
    path("scheduled/", scheduled_views.scheduled_page, name="scheduled"),
    path("scheduled/<uuid:scheduled_id>/edit", scheduled_views.scheduled_edit, name="scheduled_edit"),
    path("scheduled/<uuid:scheduled_id>/cancel", scheduled_views.scheduled_cancel, name="scheduled_cancel"),
    path("rooms/<uuid:room_id>/", views.room_view, name="room"),
    path("rooms/<uuid:room_id>/join", views.room_join, name="join"),
    path("rooms/<uuid:room_id>/leave", views.room_leave, name="leave"),
    path("rooms/<uuid:room_id>/notify", attention_views.notify_level, name="notify_level"),
    path("rooms/<uuid:room_id>/invite", views.room_invite_user, name="invite_user"),
    path("rooms/<uuid:room_id>/requests/", views.join_requests, name="join_requests"),
    path("rooms/<uuid:room_id>/settings/", room_settings_views.room_settings, name="settings"),
    path("rooms/<uuid:room_id>/members/", room_settings_views.room_members, name="members"),
    path("rooms/<uuid:room_id>/members/change", room_settings_views.member_change, name="member_change"),
    path("dm/", views.dm_open, name="dm_open"),
    path("people/<uuid:user_id>/", views.person, name="person"),
    path("invite/<str:code>/", views.invite_page, name="invite"),
    path("attachments/<uuid:attachment_id>/", views.attachment, name="attachment"),
]
