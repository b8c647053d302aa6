"""DRF authentication for the two API schemes (api.md, "Authentication").
Each reads the rest of the request in the user's profile language
(accounts.languages), as the pages do for session users."""

from __future__ import annotations

from django.utils.translation import gettext as _
from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts import selectors, services
from accounts.languages import activate_for
from core.client_ip import client_ip  # the one rule for the client's address (accounts' faces import it here)


class DeviceTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <token>``: a device session made by login.

    knox parses the header; the lookup, expiry and user checks are
    ``accounts.selectors.user_for_token`` (shared with the socket), and the
    sliding expiry is written at most once a minute."""

    def authenticate_credentials(self, token: bytes):
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        found = selectors.user_for_token(text)
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        user, session = found
        services.device_session_touch(session=session, ip=client_ip(self._request))
        services.user_touch_activity(user=user)
        activate_for(user, self._request)
        return user, session

    def authenticate(self, request):
        self._request = request  # authenticate_credentials gets only the token
        return super().authenticate(request)


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key <key>``: limited to the key's scopes
    (accounts.permissions.HasRequiredScopes) and to what its owner may do."""

    keyword = b"api-key"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid Api-Key header."))
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from None
        api_key = selectors.api_key_for_key(key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked API key."))
        services.api_key_record_use(api_key=api_key)
        services.user_touch_activity(user=api_key.user)
        activate_for(api_key.user, request)
        return api_key.user, api_key

    def authenticate_header(self, request):
        return "Api-Key"
