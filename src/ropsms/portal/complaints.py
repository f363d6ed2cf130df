"""Complaints inbox on the eservices `Feedback` model (FB / شكوى and unmatched SMS).

Public relations sees feedback not yet assigned and feedback assigned within its units; it assigns
an item to a directorate (or a unit of its own), moves it through its statuses, and replies to the
citizen by SMS. Every change and reply is audited; the citizen's number is masked in the audit.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from ropsms.directory.models import OrgUnit
from ropsms.messaging import services as messaging
from ropsms.ops.audit import mask, record
from ropsms.portal.access import PortalUser
from ropsms.portal.models import ComplaintReply
from ropsms.portal.services import PortalError, producer_for


def available() -> bool:
    try:
        from ropsms.eservices.models import Feedback  # noqa: F401
    except ImportError:
        return False
    return True


def _model():
    from ropsms.eservices.models import Feedback

    return Feedback


def visible_feedback(pu: PortalUser):
    qs = _model().objects.select_related("unit", "person")
    if pu.is_system_admin:
        return qs
    if pu.unit is None:
        return qs.none()
    return qs.filter(Q(unit__isnull=True) | Q(unit__path__startswith=pu.unit.path))


def assignable_units(pu: PortalUser):
    return OrgUnit.objects.filter(Q(kind=OrgUnit.Kind.DIRECTORATE) | Q(pk__in=pu.visible_units().values("pk")))


class HandleForm(forms.Form):
    unit = forms.TypedChoiceField(label=gettext_lazy("Assign to"), coerce=int, required=False, empty_value=None)
    status = forms.ChoiceField(label=gettext_lazy("Status"))
    note = forms.CharField(label=gettext_lazy("Internal note"), required=False,
                           widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, pu: PortalUser, **kwargs):
        super().__init__(*args, **kwargs)
        lang = get_language() or "en"
        self.fields["unit"].choices = [("", "—")] + [(u.pk, u.name(lang)) for u in assignable_units(pu)]
        self.fields["status"].choices = _model().Status.choices


class ReplyForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("Reply by SMS"), max_length=670,
                           widget=forms.Textarea(attrs={"rows": 3, "dir": "auto"}))


def update(*, pu: PortalUser, feedback, unit_id: int | None, status: str, note: str, ip: str | None = None) -> None:
    if unit_id is not None and not assignable_units(pu).filter(pk=unit_id).exists():
        raise PortalError(_("You cannot assign feedback to that unit."))
    Feedback = _model()
    changes = {"unit_id": unit_id, "status": status, "note": note}
    if unit_id and status == Feedback.Status.NEW:
        changes["status"] = status = Feedback.Status.ASSIGNED
    if status in (Feedback.Status.RESOLVED, Feedback.Status.CLOSED) and not feedback.resolved_at:
        changes["resolved_at"] = timezone.now()
    Feedback.objects.filter(pk=feedback.pk).update(updated_at=timezone.now(), **changes)
    record(actor=pu.actor, action="complaint.update", target=f"feedback:{feedback.pk}",
           unit=pu.unit.code if pu.unit else "", ip=ip, status=status, assigned=unit_id)


def reply(*, pu: PortalUser, feedback, text: str, ip: str | None = None) -> ComplaintReply:
    unit = feedback.unit or pu.unit
    try:
        msg = messaging.send(to=feedback.msisdn, text=text.strip(), producer=producer_for(unit),
                             meta={"feedback": feedback.pk}, allow_foreign=True)
    except messaging.SendError as exc:
        raise PortalError(str(exc)) from None
    r = ComplaintReply.objects.create(feedback=feedback, text=text.strip(), message=msg, sent_by=pu.user)
    Feedback = _model()
    if feedback.status == Feedback.Status.NEW:
        Feedback.objects.filter(pk=feedback.pk).update(status=Feedback.Status.IN_PROGRESS, updated_at=timezone.now())
    record(actor=pu.actor, action="complaint.reply", target=f"feedback:{feedback.pk}", unit=unit.code, ip=ip,
           msisdn=mask(feedback.msisdn), message=msg.pk)
    return r


def inbox(request: HttpRequest, pu: PortalUser) -> HttpResponse:
    qs = visible_feedback(pu)
    status = request.GET.get("status", "")
    if status in _model().Status.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(request, "portal/complaints.html", {"available": True, "page": page, "status": status,
                                                      "statuses": _model().Status.choices})


def detail(request: HttpRequest, pu: PortalUser, pk: int) -> HttpResponse:
    fb = get_object_or_404(visible_feedback(pu), pk=pk) if available() else None
    if fb is None:
        raise Http404
    ip = request.META.get("REMOTE_ADDR")
    handle = HandleForm(initial={"unit": fb.unit_id, "status": fb.status, "note": fb.note}, pu=pu)
    answer = ReplyForm()
    if request.method == "POST":
        try:
            if request.POST.get("action") == "reply":
                answer = ReplyForm(request.POST)
                if answer.is_valid():
                    reply(pu=pu, feedback=fb, text=answer.cleaned_data["text"], ip=ip)
                    messages.success(request, _("Reply queued."))
                    return redirect("portal:complaint", pk=fb.pk)
            else:
                handle = HandleForm(request.POST, pu=pu)
                if handle.is_valid():
                    d = handle.cleaned_data
                    update(pu=pu, feedback=fb, unit_id=d["unit"], status=d["status"], note=d["note"], ip=ip)
                    messages.success(request, _("Saved."))
                    return redirect("portal:complaint", pk=fb.pk)
        except PortalError as exc:
            messages.error(request, str(exc))
    replies = ComplaintReply.objects.filter(feedback=fb).select_related("message", "sent_by")
    return render(request, "portal/complaint.html", {"fb": fb, "handle": handle, "answer": answer,
                                                     "replies": replies, "msisdn": mask(fb.msisdn, keep=4)})
