from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from ropsms.portal import otp, views

app_name = "portal"

urlpatterns = [
    path("favicon.ico", RedirectView.as_view(url=static("portal/favicon.svg"), permanent=True)),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password"),
    path("account/two-factor/", otp.setup, name="otp_setup"),
    path("account/two-factor/verify/", otp.verify, name="otp_verify"),
    path("", views.dashboard, name="dashboard"),
    path("compose/", views.compose, name="compose"),
    path("broadcasts/", views.broadcasts, name="broadcasts"),
    path("broadcasts/<int:pk>/", views.broadcast, name="broadcast"),
    path("broadcasts/<int:pk>/progress.json", views.broadcast_progress, name="broadcast_progress"),
    path("broadcasts/<int:pk>/report.<str:fmt>", views.broadcast_export, name="broadcast_export"),
    path("broadcasts/<int:pk>/cancel/", views.broadcast_cancel, name="broadcast_cancel"),
    path("broadcasts/<int:pk>/<str:decision>/", views.broadcast_decide, name="broadcast_decide"),
    path("approvals/", views.approvals, name="approvals"),
    path("staff/", views.staff, name="staff"),
    path("groups/", views.groups, name="groups"),
    path("templates/", views.templates, name="templates"),
    path("policy/", views.policy, name="policy"),
    path("recruitment/", views.recruitment, name="recruitment"),
    path("recruitment/<int:pk>/", views.interview, name="interview"),
    path("complaints/", views.complaints, name="complaints"),
    path("audit/", views.audit, name="audit"),
    path("users/", views.users, name="users"),
    path("complaints/<int:pk>/", views.complaint, name="complaint"),
]
