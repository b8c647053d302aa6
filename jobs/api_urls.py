from django.urls import path

from jobs import api

urlpatterns = [
    path("remotes/", api.RemoteListView.as_view(), name="api-remotes"),
    path("remotes/<str:name>/", api.RemoteDetailView.as_view(), name="api-remote"),
    path("remotes/<str:name>/test", api.RemoteTestView.as_view(), name="api-remote-test"),
    path("remotes/<str:name>/browse", api.RemoteBrowseView.as_view(), name="api-remote-browse"),
    path("remotes/<str:name>/permissions/", api.RemotePermissionListView.as_view(), name="api-remote-permissions"),
    path("remotes/<str:name>/permissions/<uuid:grant_id>/", api.RemotePermissionDetailView.as_view(),
         name="api-remote-permission"),
    path("jobs/", api.JobListView.as_view(), name="api-jobs"),
    path("jobs/<uuid:pk>/", api.JobDetailView.as_view(), name="api-job"),
    path("jobs/<uuid:pk>/cancel", api.JobCancelView.as_view(), name="api-job-cancel"),
    path("jobs/<uuid:pk>/retry", api.JobRetryView.as_view(), name="api-job-retry"),
    path("jobs/<uuid:pk>/logs/", api.JobLogsView.as_view(), name="api-job-logs"),
    path("schedules/", api.ScheduleListView.as_view(), name="api-schedules"),
    path("schedules/<uuid:pk>/", api.ScheduleDetailView.as_view(), name="api-schedule"),
    path("schedules/<uuid:pk>/preview", api.SchedulePreviewView.as_view(), name="api-schedule-preview"),
]
