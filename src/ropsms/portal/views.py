"""Thin views: check the right and the unit, call a service, render. Business rules live in services."""

from __future__ import annotations

import csv
import io
from functools import wraps

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ropsms.messaging.encoding import LIMITS, gsm_costs
from ropsms.ops.audit import record
from ropsms.portal import forms as f
from ropsms.portal import recruitment as rec
from ropsms.portal import services as svc
from ropsms.portal.access import PortalUser, portal_user
from ropsms.portal.charts import state_chart
from ropsms.portal.models import Broadcast, InterviewSession, MessageTemplate, UnitPolicy
from ropsms.portal.otp import otp_required_redirect


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def portal_view(right: str):
    """Log-in, two-factor for admin roles, and the right: 403 page for a role without it."""

    def deco(fn):
        @login_required
        @wraps(fn)
        def inner(request: HttpRequest, *args, **kwargs):
            pu = portal_user(request.user)
            redirect_to = otp_required_redirect(request, pu)
            if redirect_to:
                return redirect_to
            if not pu.has(right):
                raise PermissionDenied(_("Your role does not give access to this page."))
            return fn(request, pu, *args, **kwargs)

        return inner

    return deco


def lang() -> str:
    return get_language() or "en"


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "portal/password.html"

    def get_success_url(self) -> str:
        from django.urls import reverse

        return reverse("portal:dashboard")

    def form_valid(self, form):
        response = super().form_valid(form)
        record(actor=f"user:{self.request.user.get_username()}", action="user.password_change",
               ip=client_ip(self.request))
        messages.success(self.request, _("Your password was changed."))
        return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth import logout

    if request.user.is_authenticated:
        record(actor=f"user:{request.user.get_username()}", action="user.logout", ip=client_ip(request))
    logout(request)
    return redirect("portal:login")


@portal_view("view")
def dashboard(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    broadcasts = svc.visible_broadcasts(pu)
    month = svc.month_start()
    used, quota, quota_unit = svc.quota_usage(pu.unit) if pu.unit else (0, 0, None)
    ctx = {
        "recent": broadcasts[:8] if pu.has("reports") else [],
        "pending": broadcasts.filter(status=Broadcast.Status.PENDING).count(),
        "month_broadcasts": broadcasts.filter(created_at__gte=month).count(),
        "staff_count": svc.visible_staff(pu).count() if pu.has("staff") else None,
        "quota_used": used, "quota": quota, "quota_unit": quota_unit,
        "threshold": svc.approval_threshold(pu.unit) if pu.unit else None,
    }
    return render(request, "portal/dashboard.html", ctx)


def _compose_form(request: HttpRequest, pu: PortalUser, data=None) -> f.ComposeForm:
    units = pu.visible_units()
    return f.ComposeForm(data, units=units, groups=svc.visible_groups(pu),
                         staff=svc.visible_staff(pu).exclude(mobile="").order_by("org_unit__path", "name_en"),
                         templates=MessageTemplate.objects.filter(org_unit__in=units),
                         language=lang(), initial={"unit": pu.unit.pk if pu.unit else None})


@portal_view("compose")
def compose(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    form = _compose_form(request, pu, request.POST or None)
    ctx: dict = {"form": form}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        selection = svc.Selection(staff=d["staff"], groups=d["groups"], units=d["units"], numbers=d["numbers"])
        unit = pu.visible_units().filter(pk=d["unit"]).first()
        try:
            if request.POST.get("action") == "preview":
                resolved = svc.resolve(pu, selection)
                ctx.update(preview=svc.preview(resolved, d["text"]), resolved=resolved,
                           needs_approval=resolved.count > svc.approval_threshold(unit),
                           threshold=svc.approval_threshold(unit))
            else:
                if unit is None:
                    raise svc.PortalError(_("You may not send for this unit."))
                b = svc.create_broadcast(pu=pu, unit=unit, title=d["title"], text=d["text"], selection=selection,
                                         scheduled_for=d["scheduled_for"], ip=client_ip(request))
                if b.status == Broadcast.Status.PENDING:
                    messages.info(request, _("The broadcast is waiting for an approver (more than %(n)d "
                                             "recipients).") % {"n": svc.approval_threshold(unit)})
                else:
                    messages.success(request, _("The broadcast was queued."))
                return redirect("portal:broadcast", pk=b.pk)
        except svc.PortalError as exc:
            form.add_error(None, str(exc))
    ctx["gsm"] = {"costs": gsm_costs(), "limits": LIMITS}
    ctx["templates_json"] = {str(t.pk): t.text for t in MessageTemplate.objects.filter(
        org_unit__in=pu.visible_units())}
    return render(request, "portal/compose.html", ctx)


@portal_view("reports")
def broadcasts(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    qs = svc.visible_broadcasts(pu)
    status = request.GET.get("status")
    if status in Broadcast.Status.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "portal/broadcasts.html", {"page": page, "statuses": Broadcast.Status.choices,
                                                      "status": status})


def _broadcast(pu: PortalUser, pk: int) -> Broadcast:
    b = get_object_or_404(Broadcast.objects.select_related("org_unit", "created_by", "batch", "decided_by"), pk=pk)
    if not pu.can_see_unit(b.org_unit):
        raise Http404  # not even its existence is shown outside the unit
    return b


@portal_view("reports")
def broadcast(request: HttpRequest, pu: PortalUser, pk: int) -> HttpResponse:
    b = _broadcast(pu, pk)
    prog = svc.progress(b)
    rows = Paginator(svc.report_messages(b), 100).get_page(request.GET.get("page"))
    rows.object_list = list(svc.report_rows(b, list(rows.object_list)))
    can_cancel = b.status == Broadcast.Status.PENDING or (
        b.status == Broadcast.Status.SENT and (prog["counts"]["scheduled"] or prog["counts"]["queued"]))
    return render(request, "portal/broadcast.html", {
        "b": b, "progress": prog, "rows": rows, "chart": state_chart(prog["counts"]),
        "can_cancel": can_cancel and (pu.has("compose") or pu.has("approve")),
        "can_decide": b.status == Broadcast.Status.PENDING and pu.has("approve"),
        "decision_form": f.DecisionForm()})


@portal_view("reports")
def broadcast_progress(request: HttpRequest, pu: PortalUser, pk: int) -> JsonResponse:
    return JsonResponse(svc.progress(_broadcast(pu, pk)))


@portal_view("reports")
def broadcast_export(request: HttpRequest, pu: PortalUser, pk: int, fmt: str) -> HttpResponse:
    if fmt not in ("csv", "xlsx"):
        raise Http404
    b = _broadcast(pu, pk)
    rows = list(svc.report_rows(b))
    record(actor=pu.actor, action="broadcast.export", target=f"broadcast:{b.pk}", unit=b.org_unit.code,
           ip=client_ip(request), format=fmt, rows=len(rows))
    name = f"broadcast-{b.pk}-report"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(svc.REPORT_COLUMNS)
        for r in rows:
            w.writerow([_cell(r[c]) for c in svc.REPORT_COLUMNS])
        resp = HttpResponse("\ufeff" + buf.getvalue(), content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return resp
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("report")
    ws.append(svc.REPORT_COLUMNS)
    for r in rows:
        ws.append([_cell(r[c]) for c in svc.REPORT_COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return FileResponse(out, as_attachment=True, filename=f"{name}.xlsx",
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _cell(value):
    if hasattr(value, "isoformat"):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not value.startswith("+968"):
        return "'" + value  # no formula injection in spreadsheets
    return "" if value is None else value


@require_POST
@portal_view("reports")
def broadcast_cancel(request: HttpRequest, pu: PortalUser, pk: int) -> HttpResponse:
    b = _broadcast(pu, pk)
    try:
        n = svc.cancel(pu=pu, broadcast_id=b.pk, ip=client_ip(request))
        messages.success(request, _("Cancelled (%(n)d messages had not left yet).") % {"n": n})
    except svc.PortalError as exc:
        messages.error(request, str(exc))
    return redirect("portal:broadcast", pk=b.pk)


@require_POST
@portal_view("approve")
def broadcast_decide(request: HttpRequest, pu: PortalUser, pk: int, decision: str) -> HttpResponse:
    if decision not in ("approve", "reject"):
        raise Http404
    b = _broadcast(pu, pk)
    form = f.DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        if decision == "approve":
            svc.approve(pu=pu, broadcast_id=b.pk, note=note, ip=client_ip(request))
            messages.success(request, _("Approved and queued."))
        else:
            svc.reject(pu=pu, broadcast_id=b.pk, note=note, ip=client_ip(request))
            messages.info(request, _("Rejected."))
    except svc.PortalError as exc:
        messages.error(request, str(exc))
    return redirect("portal:broadcast", pk=b.pk)


@portal_view("approve")
def approvals(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    pending = svc.visible_broadcasts(pu).filter(status=Broadcast.Status.PENDING)
    return render(request, "portal/approvals.html", {"pending": pending})


@portal_view("staff")
def staff(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    qs = svc.visible_staff(pu).order_by("org_unit__path", "name_en")
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name_en__icontains=q) | Q(name_ar__icontains=q) | Q(employee_no__icontains=q)
                       | Q(rank__icontains=q))
    unit_id = request.GET.get("unit")
    units = pu.visible_units()
    if unit_id and unit_id.isdigit():
        unit = units.filter(pk=int(unit_id)).first()
        if unit:
            qs = qs.filter(org_unit__path__startswith=unit.path)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "portal/staff.html", {"page": page, "q": q, "units": f.unit_choices(units, lang()),
                                                 "unit_id": unit_id})


@portal_view("groups")
def groups(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    units = pu.visible_units()
    form = f.GroupForm(request.POST or None)
    f.limit_units(form, units, lang(), "owner_unit", "units")
    form.fields["members"].queryset = svc.visible_staff(pu).exclude(mobile="").order_by("name_en")
    if request.method == "POST" and form.is_valid():
        group = form.save()
        record(actor=pu.actor, action="group.create", target=f"group:{group.pk}", unit=group.owner_unit.code,
               ip=client_ip(request))
        messages.success(request, _("Group saved."))
        return redirect("portal:groups")
    rows = [(g, g.people().count()) for g in svc.visible_groups(pu).prefetch_related("units")]
    return render(request, "portal/groups.html", {"rows": rows, "form": form})


@portal_view("templates")
def templates(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    units = pu.visible_units()
    form = f.TemplateForm(request.POST or None, initial={"org_unit": pu.unit})
    f.limit_units(form, units, lang(), "org_unit")
    if request.method == "POST" and form.is_valid():
        t = form.save()
        record(actor=pu.actor, action="template.create", target=f"template:{t.pk}", unit=t.org_unit.code)
        messages.success(request, _("Template saved."))
        return redirect("portal:templates")
    return render(request, "portal/templates.html", {
        "rows": MessageTemplate.objects.filter(org_unit__in=units).select_related("org_unit"), "form": form})


@portal_view("policy")
def policy(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    unit = pu.unit
    if unit is None:
        raise PermissionDenied
    current = UnitPolicy.objects.filter(org_unit=unit).first() or UnitPolicy(org_unit=unit)
    form = f.PolicyForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        form.save()
        record(actor=pu.actor, action="policy.change", target=f"unit:{unit.code}", unit=unit.code,
               threshold=current.approval_threshold, quota=current.monthly_quota, ip=client_ip(request))
        messages.success(request, _("Policy saved."))
        return redirect("portal:dashboard")
    return render(request, "portal/policy.html", {"form": form, "unit": unit})


# --- recruitment --------------------------------------------------------------------------------

@portal_view("recruitment")
def recruitment(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    units = pu.visible_units()
    form = f.SessionForm(request.POST or None, initial={"org_unit": pu.unit})
    f.limit_units(form, units, lang(), "org_unit")
    if request.method == "POST" and form.is_valid():
        session = form.save(commit=False)
        session.created_by = request.user
        session.save()
        record(actor=pu.actor, action="recruitment.session", target=f"interview:{session.pk}",
               unit=session.org_unit.code, ip=client_ip(request))
        return redirect("portal:interview", pk=session.pk)
    sessions = [(s, rec.summary(s)) for s in InterviewSession.objects.filter(org_unit__in=units)
                .select_related("org_unit")]
    return render(request, "portal/recruitment.html", {"sessions": sessions, "form": form})


def _session(pu: PortalUser, pk: int) -> InterviewSession:
    s = get_object_or_404(InterviewSession.objects.select_related("org_unit"), pk=pk)
    if not pu.can_see_unit(s.org_unit):
        raise Http404
    return s


@portal_view("recruitment")
def interview(request: HttpRequest, pu: PortalUser, pk: int) -> HttpResponse:
    session = _session(pu, pk)
    upload = f.UploadForm()
    report = None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "invite":
                n = rec.send_invitations(pu=pu, session=session, ip=client_ip(request))
                messages.success(request, _("%(n)d invitations queued.") % {"n": n})
                return redirect("portal:interview", pk=session.pk)
            upload = f.UploadForm(request.POST, request.FILES)
            if upload.is_valid():
                file = upload.cleaned_data["file"]
                if file.size > 5 * 1024 * 1024:
                    raise svc.PortalError(_("The file is larger than 5 MB."))
                report = rec.upload_applicants(pu=pu, session=session, filename=file.name, data=file.read(),
                                               ip=client_ip(request))
        except svc.PortalError as exc:
            messages.error(request, str(exc))
    invitations = session.invitations.select_related("applicant", "message").order_by("applicant__name")
    return render(request, "portal/interview.html", {
        "session": session, "summary": rec.summary(session), "invitations": invitations, "upload": upload,
        "report": report, "report_ok": sum(r.ok for r in report) if report else 0})


# --- complaints (on the eservices Feedback model, when it exists) --------------------------------

@portal_view("complaints")
def complaints(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    from ropsms.portal import complaints as comp

    if not comp.available():
        return render(request, "portal/complaints.html", {"available": False})
    return comp.inbox(request, pu)


@portal_view("complaints")
def complaint(request: HttpRequest, pu: PortalUser, pk: int) -> HttpResponse:
    from ropsms.portal import complaints as comp

    return comp.detail(request, pu, pk)



@portal_view("audit")
def audit(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    """The audit trail of the user's units (everything, for a system administrator)."""
    from ropsms.ops.models import AuditEntry

    qs = AuditEntry.objects.all()
    if not pu.is_system_admin:
        qs = qs.filter(unit__in=list(pu.visible_units().values_list("code", flat=True)))
    action = request.GET.get("action", "").strip()
    if action:
        qs = qs.filter(action__startswith=action)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "portal/audit.html", {"page": page, "action": action,
                                                 "extra": f"&action={action}" if action else ""})


@portal_view("users")
def users(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    """Portal users of the unit admin's units; new users get a generated password shown once."""
    from ropsms.portal.models import Role

    labels = dict(Role.choices)
    form = f.UserForm(request.POST or None, units=pu.visible_units(), language=lang(),
                      roles=[(r, labels[r]) for r in svc.grantable_roles(pu)],
                      initial={"unit": pu.unit.pk if pu.unit else None})
    created = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        unit = pu.visible_units().filter(pk=d["unit"]).first()
        try:
            if unit is None:
                raise svc.PortalError(_("You may not give these roles in this unit."))
            user, password = svc.create_user(pu=pu, username=d["username"], unit=unit, roles=d["roles"],
                                             employee_no=d["person"].strip(), ip=client_ip(request))
            created = (user.get_username(), password)
            form = f.UserForm(units=pu.visible_units(), language=lang(),
                              roles=[(r, labels[r]) for r in svc.grantable_roles(pu)])
        except svc.PortalError as exc:
            form.add_error(None, str(exc))
    rows = [(p, [labels.get(r, r) for r in p.roles]) for p in svc.visible_profiles(pu)]
    return render(request, "portal/users.html", {"rows": rows, "form": form, "created": created})
