from django.urls import path

from jobs import remote_views, schedule_views, views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("new/", views.job_new, name="new"),
    path("<uuid:pk>/", views.job_detail, name="detail"),
    path("<uuid:pk>/<str:action>/", views.job_action, name="action"),
    path("remotes/", remote_views.remote_list, name="remotes"),
    path("remotes/new/", remote_views.remote_new, name="remote_new"),
    path("remotes/<str:name>/edit/", remote_views.remote_edit, name="remote_edit"),
    path("remotes/<str:name>/permissions/", views.remote_permissions, name="permissions"),
    path("remotes/<str:name>/permissions/<uuid:grant_id>/revoke/", views.permission_revoke,
         name="permission_revoke"),
    path("schedules/", schedule_views.schedule_list, name="schedules"),
    path("schedules/preview", schedule_views.schedule_preview, name="schedule_preview"),
    path("schedules/<uuid:pk>/<str:action>/", schedule_views.schedule_action, name="schedule_action"),
]
