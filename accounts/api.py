"""The accounts JSON API (api.md, "Auth and accounts"). Thin: validate the
shape, call one service or selector, render."""

from __future__ import annotations

from django.contrib import auth
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import notifications, selectors, services
from accounts.authentication import client_ip
from accounts.middleware import current_device_session
from accounts.models import DeviceSession
from accounts.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateInput,
    ApiKeySerializer,
    DeviceSessionSerializer,
    LoginInput,
    LoginResultSerializer,
    NotificationListInput,
    NotificationReadAllSerializer,
    NotificationSerializer,
    ProfileUpdateInput,
    RegisterInput,
    RegisterResultSerializer,
    UserSerializer,
)
from config.api import paginate
from config.serializers import PAGE_PARAMETERS, page_of, validated
from core.errors import NotFound


def _user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]


class RegisterView(APIView):
    # No authentication: a stale or foreign Authorization header must not
    # block sign-up, and there is no session whose CSRF needs checking.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=RegisterInput, responses={201: RegisterResultSerializer})
    def post(self, request):
        user = services.user_register(**validated(RegisterInput, request.data))
        return Response(RegisterResultSerializer({"user": user}).data, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=LoginInput, responses={200: LoginResultSerializer})
    def post(self, request):
        data = validated(LoginInput, request.data)
        ip = client_ip(request)
        user = services.authenticate_login(login=data["login"], password=data["password"], ip=ip)
        session, token = services.api_login(
            user=user, device_name=data["device_name"], ip=ip, user_agent=_user_agent(request)
        )
        return Response(LoginResultSerializer({"session": session, "token": token, "user": user}).data)


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        session = current_device_session(request)
        if isinstance(request.auth, DeviceSession):
            services.logout(session=session)
        else:
            auth.logout(request._request)  # the browser: its row goes with it (accounts.signals)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        services.sessions_revoke_all(actor=request.user, user=request.user)
        if not isinstance(request.auth, DeviceSession):
            auth.logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionListView(APIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(DeviceSessionSerializer))
    def get(self, request):
        return paginate(self, request, selectors.sessions_of(user=request.user), DeviceSessionSerializer,
                        ordering=("-created", "-id"), context={"current": current_device_session(request)})


class SessionDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, session_id):
        session = selectors.session_of(user=request.user, session_id=session_id)
        if session is None:
            raise NotFound(_("No such session."))
        current = current_device_session(request)
        services.session_revoke(actor=request.user, session=session)
        if current is not None and current.pk == session.pk and not isinstance(request.auth, DeviceSession):
            auth.logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    # Any valid key may ask whose it is; changing the profile needs a token or the session.
    required_scopes = {"GET": ()}

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=ProfileUpdateInput, responses=UserSerializer)
    def patch(self, request):
        changes = validated(ProfileUpdateInput, request.data)
        services.profile_update(actor=request.user, user=request.user, **changes)
        request.user.refresh_from_db()
        return Response(UserSerializer(request.user).data)


class ApiKeyListView(APIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(ApiKeySerializer))
    def get(self, request):
        return paginate(self, request, selectors.api_keys_of(user=request.user), ApiKeySerializer)

    @extend_schema(request=ApiKeyCreateInput, responses={201: ApiKeyCreatedSerializer})
    def post(self, request):
        api_key, key = services.api_key_create(user=request.user, **validated(ApiKeyCreateInput, request.data))
        return Response(ApiKeyCreatedSerializer(api_key, context={"key": key}).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, key_id):
        api_key = selectors.api_key_of(user=request.user, key_id=key_id)
        if api_key is None:
            raise NotFound(_("No such API key."))
        services.api_key_revoke(actor=request.user, api_key=api_key)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- notifications

NOTIFICATION_SCOPES = {"GET": "notifications:read", "POST": "notifications:write"}


class NotificationListView(APIView):
    required_scopes = NOTIFICATION_SCOPES

    @extend_schema(parameters=[NotificationListInput, *PAGE_PARAMETERS], responses=page_of(NotificationSerializer))
    def get(self, request):
        filters = validated(NotificationListInput, request.query_params)
        qs = notifications.notifications_for(user=request.user, **filters)
        return paginate(self, request, qs, NotificationSerializer)


class NotificationReadView(APIView):
    required_scopes = NOTIFICATION_SCOPES

    @extend_schema(request=None, responses=NotificationSerializer)
    def post(self, request, notification_id):
        notification = notifications.notification_mark_read(user=request.user, notification_id=notification_id)
        return Response(NotificationSerializer(notification).data)


class NotificationArchiveView(APIView):
    required_scopes = NOTIFICATION_SCOPES

    @extend_schema(request=None, responses=NotificationSerializer)
    def post(self, request, notification_id):
        notification = notifications.notification_archive(user=request.user, notification_id=notification_id)
        return Response(NotificationSerializer(notification).data)


class NotificationReadAllView(APIView):
    required_scopes = NOTIFICATION_SCOPES

    @extend_schema(request=None, responses=NotificationReadAllSerializer)
    def post(self, request):
        marked = notifications.notification_mark_all_read(user=request.user)
        unread = notifications.unread_count(user=request.user, cap=None)
        return Response(NotificationReadAllSerializer({"marked": marked, "unread": unread}).data)
