"""The project's URLs plus a probe view that declares scopes the way later
features will (used by the API key scope tests)."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urls


class ScopeProbe(APIView):
    required_scopes = {"GET": "chat:read", "POST": "chat:write"}

    def get(self, request):
        return Response({"user": request.user.username})

    def post(self, request):
        return Response({"posted": True}, status=201)


urlpatterns = [path("api/v1/test-probe", ScopeProbe.as_view()), *project_urls]
