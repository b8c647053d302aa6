from django.urls import path

from orgs import api

urlpatterns = [
    path("orgs/", api.OrgListView.as_view(), name="api-orgs"),
    path("orgs/<str:org_id>/", api.OrgDetailView.as_view(), name="api-org"),
    path("orgs/<str:org_id>/transfer-ownership", api.OrgTransferView.as_view(), name="api-org-transfer"),
    path("orgs/<str:org_id>/departments/", api.DepartmentListView.as_view(), name="api-org-departments"),
    path("orgs/<str:org_id>/departments/<str:pk>/", api.DepartmentDetailView.as_view(), name="api-org-department"),
    path("orgs/<str:org_id>/positions/", api.PositionListView.as_view(), name="api-org-positions"),
    path("orgs/<str:org_id>/positions/<str:pk>/", api.PositionDetailView.as_view(), name="api-org-position"),
    path("orgs/<str:org_id>/roles/", api.RoleListView.as_view(), name="api-org-roles"),
    path("orgs/<str:org_id>/roles/<str:pk>/", api.RoleDetailView.as_view(), name="api-org-role"),
    path("orgs/<str:org_id>/members/", api.MemberListView.as_view(), name="api-org-members"),
    path("orgs/<str:org_id>/members/<str:user_id>/", api.MemberDetailView.as_view(), name="api-org-member"),
    path("orgs/<str:org_id>/proxies/", api.ProxyListView.as_view(), name="api-org-proxies"),
    path("orgs/<str:org_id>/proxies/<str:pk>/", api.ProxyDetailView.as_view(), name="api-org-proxy"),
    path("orgs/<str:org_id>/permissions/check", api.PermissionCheckView.as_view(), name="api-org-permission-check"),
]
