"""The accounts JSON API (api.md, "Auth and accounts"). Thin: validate the
shape, call one service or selector, render."""

from __future__ import annotations

from django.contrib import auth
from drf_spectacular.utils import OpenApiParameter, extend_schema
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
    ApiKeyCreateSerializer,
    ApiKeyPageSerializer,
    ApiKeySerializer,
    DeviceSessionPageSerializer,
    DeviceSessionSerializer,
    LoginResultSerializer,
    LoginSerializer,
    NotificationPageSerializer,
    NotificationReadAllSerializer,
    NotificationSerializer,
    ProfileUpdateSerializer,
    RegisterResultSerializer,
    RegisterSerializer,
    UserSerializer,
)
from config.api import CursorPage
from config.errors import NotFound


PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="The `next` value of the previous page."),
    OpenApiParameter("limit", int, description="Page size, at most 100."),
]


def _user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]


class RegisterView(APIView):
    # No authentication: a stale or foreign Authorization header must not
    # block sign-up, and there is no session whose CSRF needs checking.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=RegisterSerializer, responses={201: RegisterResultSerializer})
    def post(self, request):
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response({"user": UserSerializer(user).data}, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=LoginSerializer, responses={200: LoginResultSerializer})
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ip = client_ip(request)
        user = services.authenticate_login(login=data.validated_data["login"], password=data.validated_data["password"], ip=ip)
        session, token = services.api_login(
            user=user, device_name=data.validated_data["device_name"], ip=ip, user_agent=_user_agent(request)
        )
        return Response(
            {"token": token, "expires_at": session.expiry, "session_id": session.pk, "user": UserSerializer(user).data}
        )


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
    @extend_schema(parameters=PAGE_PARAMETERS, responses=DeviceSessionPageSerializer)
    def get(self, request):
        paginator = CursorPage()
        paginator.ordering = ("-created", "-id")
        page = paginator.paginate_queryset(selectors.sessions_of(user=request.user), request, view=self)
        context = {"current": current_device_session(request)}
        return paginator.get_paginated_response(DeviceSessionSerializer(page, many=True, context=context).data)


class SessionDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, session_id):
        session = selectors.session_of(user=request.user, session_id=session_id)
        if session is None:
            raise NotFound("No such session.")
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

    @extend_schema(request=ProfileUpdateSerializer, responses=UserSerializer)
    def patch(self, request):
        data = ProfileUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        services.profile_update(actor=request.user, user=request.user, **changes)
        request.user.refresh_from_db()
        return Response(UserSerializer(request.user).data)


class ApiKeyListView(APIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=ApiKeyPageSerializer)
    def get(self, request):
        paginator = CursorPage()
        page = paginator.paginate_queryset(selectors.api_keys_of(user=request.user), request, view=self)
        return paginator.get_paginated_response(ApiKeySerializer(page, many=True).data)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request):
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        api_key, key = services.api_key_create(user=request.user, **data.validated_data)
        return Response(ApiKeyCreatedSerializer(api_key, context={"key": key}).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, key_id):
        api_key = selectors.api_key_of(user=request.user, key_id=key_id)
        if api_key is None:
            raise NotFound("No such API key.")
        services.api_key_revoke(actor=request.user, api_key=api_key)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- notifications

NOTIFICATION_SCOPES = {"GET": "notifications:read", "POST": "notifications:write"}


class NotificationListView(APIView):
    required_scopes = NOTIFICATION_SCOPES

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", str, description="`1`: only unread ones."),
            OpenApiParameter("archived", str, description="`1`: the archive instead of the inbox."),
            *PAGE_PARAMETERS,
        ],
        responses=NotificationPageSerializer,
    )
    def get(self, request):
        params = request.query_params
        qs = notifications.notifications_for(
            user=request.user, unread=_flag(params.get("unread")), archived=_flag(params.get("archived"))
        )
        paginator = CursorPage()
        paginator.ordering = ("-created_at", "-id")
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([notifications.notification_dict(n) for n in page])


def _flag(value) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


class NotificationReadView(APIView):
    required_scopes = NOTIFICATION_SCOPES

    @extend_schema(request=None, responses=NotificationSerializer)
    def post(self, request, notification_id):
        notification = notifications.notification_mark_read(user=request.user, notification_id=notification_id)
        return Response(notifications.notification_dict(notification))


class NotificationArchiveView(APIView):
    required_scopes = NOTIFICATION_SCOPES

    @extend_schema(request=None, responses=NotificationSerializer)
    def post(self, request, notification_id):
        notification = notifications.notification_archive(user=request.user, notification_id=notification_id)
        return Response(notifications.notification_dict(notification))


class NotificationReadAllView(APIView):
    required_scopes = NOTIFICATION_SCOPES

    @extend_schema(request=None, responses=NotificationReadAllSerializer)
    def post(self, request):
        marked = notifications.notification_mark_all_read(user=request.user)
        return Response({"marked": marked, "unread": notifications.unread_count(user=request.user, cap=None)})
