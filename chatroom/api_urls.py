from django.urls import path

from chatroom import api

urlpatterns = [
    path("rooms/", api.RoomsView.as_view(), name="chat-rooms"),
    path("rooms/<uuid:room_id>/", api.RoomDetailView.as_view(), name="chat-room"),
    path("rooms/<uuid:room_id>/join", api.RoomJoinView.as_view(), name="chat-room-join"),
    path("rooms/<uuid:room_id>/leave", api.RoomLeaveView.as_view(), name="chat-room-leave"),
    path("rooms/<uuid:room_id>/transfer", api.RoomTransferView.as_view(), name="chat-room-transfer"),
    path("rooms/<uuid:room_id>/members/", api.MembersView.as_view(), name="chat-room-members"),
    path("rooms/<uuid:room_id>/members/<uuid:user_id>/", api.MemberDetailView.as_view(), name="chat-room-member"),
    path("rooms/<uuid:room_id>/join-requests/", api.JoinRequestsView.as_view(), name="chat-join-requests"),
    path("rooms/<uuid:room_id>/join-requests/<uuid:request_id>/approve",
         api.JoinRequestDecideView.as_view(approve=True), name="chat-join-request-approve"),
    path("rooms/<uuid:room_id>/join-requests/<uuid:request_id>/reject",
         api.JoinRequestDecideView.as_view(approve=False), name="chat-join-request-reject"),
    path("rooms/<uuid:room_id>/invites/", api.InvitesView.as_view(), name="chat-room-invites"),
    path("invites/<str:code>/accept", api.InviteAcceptView.as_view(), name="chat-invite-accept"),
    path("rooms/<uuid:room_id>/messages/", api.MessagesView.as_view(), name="chat-room-messages"),
    path("rooms/<uuid:room_id>/pins/", api.PinnedView.as_view(), name="chat-room-pins"),
    path("rooms/<uuid:room_id>/read", api.ReadView.as_view(), name="chat-room-read"),
    path("messages/<uuid:message_id>/", api.MessageDetailView.as_view(), name="chat-message"),
    path("messages/<uuid:message_id>/history", api.MessageHistoryView.as_view(), name="chat-message-history"),
    path("messages/<uuid:message_id>/reactions/", api.ReactionsView.as_view(), name="chat-message-reactions"),
    path("messages/<uuid:message_id>/reactions/<str:emoji>/", api.ReactionDetailView.as_view(),
         name="chat-message-reaction"),
    path("messages/<uuid:message_id>/pin", api.PinView.as_view(), name="chat-message-pin"),
    path("unread", api.UnreadView.as_view(), name="chat-unread"),
    path("search/messages", api.SearchView.as_view(), name="chat-search"),
    path("uploads", api.UploadView.as_view(), name="chat-uploads"),
    path("attachments/<uuid:attachment_id>", api.AttachmentView.as_view(), name="chat-attachment"),
]
