from django.urls import path

from orgs import views

app_name = "orgs"

urlpatterns = [
    path("", views.org_list, name="list"),
    path("<uuid:org_id>/", views.org_chart, name="chart"),
    path("<uuid:org_id>/members/", views.member_directory, name="directory"),
    path("<uuid:org_id>/settings/", views.org_settings, name="settings"),
    path("<uuid:org_id>/act-as/", views.act_as, name="act_as"),
    path("<uuid:org_id>/manage/departments/", views.DepartmentsPage.as_view(), name="manage_departments"),
    path("<uuid:org_id>/manage/positions/", views.PositionsPage.as_view(), name="manage_positions"),
    path("<uuid:org_id>/manage/roles/", views.RolesPage.as_view(), name="manage_roles"),
    path("<uuid:org_id>/manage/members/", views.MembersPage.as_view(), name="manage_members"),
    path("<uuid:org_id>/manage/proxies/", views.ProxiesPage.as_view(), name="manage_proxies"),
]
