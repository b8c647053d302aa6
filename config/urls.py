from django.contrib import admin
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import last_modified
from django.views.i18n import JavaScriptCatalog

from config import dashboard, health, openapi, views
from ops.metrics_view import metrics

CATALOG_SINCE = timezone.now().replace(microsecond=0)

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("audit.api_urls")),
    path("", include("orgs.api_urls")),
    path("", include("chatroom.api_urls")),
    path("", include("jobs.api_urls")),
    path("", include("ops.api_urls")),
]

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("staff/", include("ops.urls")),
    path("accounts/", include("accounts.urls")),
    path("notifications/", include("accounts.notification_urls")),
    path("admin/", admin.site.urls),
    path("orgs/", include("orgs.urls")),
    path("chat/", include("chatroom.urls")),
    path("jobs/", include("jobs.urls")),
    # The djangojs catalog in the reader's language: gettext, ngettext,
    # interpolate and get_format for the pages' scripts (issue 19). Every page
    # loads it (base.html, as /jsi18n/?l=<language>, so the browser keeps one
    # copy per language): cached for an hour, then revalidated against the
    # process's start (the .mo files change only with a deploy).
    path("jsi18n/", cache_control(private=True, max_age=3600)(
        last_modified(lambda request, **kwargs: CATALOG_SINCE)(JavaScriptCatalog.as_view())), name="javascript-catalog"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", openapi.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", openapi.DocsView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
