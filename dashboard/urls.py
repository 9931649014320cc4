from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic.base import RedirectView

from dashboard.views import cases, export, health, queues, saved_views, talkdesk

urlpatterns = [
    path("", RedirectView.as_view(url="/cases/", permanent=False), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("talkdesk/connect/", talkdesk.connect, name="talkdesk-connect"),
    path("talkdesk/sign-in/", talkdesk.sign_in, name="talkdesk-sign-in"),
    path("talkdesk/callback/", talkdesk.callback, name="talkdesk-callback"),
    path("talkdesk/disconnect/", talkdesk.disconnect, name="talkdesk-disconnect"),
    path("cases/", cases.case_list, name="cases"),
    path("cases/export.csv", export.export_csv, name="cases-export"),
    path("cases/<str:case_id>/", cases.case_detail, name="case-detail"),
    path("views/", saved_views.view_list, name="views"),
    path("views/sidebar/", saved_views.sidebar, name="views-sidebar"),
    path("views/<slug:slug>/", saved_views.view_open, name="view-open"),
    path("views/<slug:slug>/edit/", saved_views.view_edit, name="view-edit"),
    path("views/<slug:slug>/update/", saved_views.view_update, name="view-update"),
    path("views/<slug:slug>/delete/", saved_views.view_delete, name="view-delete"),
    path("views/<slug:slug>/duplicate/", saved_views.view_duplicate, name="view-duplicate"),
    path("views/<slug:slug>/pin/", saved_views.view_pin, name="view-pin"),
    path("queues/", queues.queue_overview, name="queues"),
]
