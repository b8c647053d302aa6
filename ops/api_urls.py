from django.urls import path

from ops import api

urlpatterns = [
    path("stats/daily", api.DailyStatsView.as_view(), name="api-stats-daily"),
    path("stats/users/<str:user_id>/daily", api.UserDailyView.as_view(), name="api-stats-user-daily"),
    path("stats/metrics", api.MetricsView.as_view(), name="api-stats-metrics"),
]
