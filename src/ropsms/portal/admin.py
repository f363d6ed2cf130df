"""Admin for portal users, roles and policies; every change is written to the audit trail."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from ropsms.ops.audit import record
from ropsms.portal.models import (
    Applicant,
    Broadcast,
    ComplaintReply,
    InterviewSession,
    Invitation,
    MessageTemplate,
    Profile,
    UnitPolicy,
)


class AuditedAdmin(admin.ModelAdmin):
    """Records create/change/delete with the admin user as actor."""

    audit_name = "object"

    def _audit(self, request, obj, verb: str) -> None:
        record(actor=f"user:{request.user.get_username()}", action=f"{self.audit_name}.{verb}",
               target=f"{self.audit_name}:{obj.pk}", ip=request.META.get("REMOTE_ADDR"))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._audit(request, obj, "change" if change else "create")

    def delete_model(self, request, obj):
        self._audit(request, obj, "delete")
        super().delete_model(request, obj)


@admin.register(Profile)
class ProfileAdmin(AuditedAdmin):
    audit_name = "portal_user"
    list_display = ("user", "org_unit", "roles")
    search_fields = ("user__username", "org_unit__code")
    raw_id_fields = ("user", "org_unit", "person")


@admin.register(UnitPolicy)
class UnitPolicyAdmin(AuditedAdmin):
    audit_name = "policy"
    list_display = ("org_unit", "approval_threshold", "monthly_quota")
    raw_id_fields = ("org_unit",)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(AuditedAdmin):
    audit_name = "template"
    list_display = ("name", "org_unit")


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    list_display = ("title", "org_unit", "status", "recipient_count", "created_by", "created_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in Broadcast._meta.fields]

    def has_add_permission(self, request):
        return False  # broadcasts are made on the compose page (approval, quotas, audit)


@admin.register(InterviewSession)
class InterviewSessionAdmin(admin.ModelAdmin):
    list_display = ("title", "date", "time", "org_unit")


@admin.register(Applicant)
class ApplicantAdmin(admin.ModelAdmin):
    list_display = ("name", "language", "org_unit")
    search_fields = ("name",)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("applicant", "session", "status", "sent_at", "replied_at", "reminded_at")
    list_filter = ("status",)


@admin.register(ComplaintReply)
class ComplaintReplyAdmin(admin.ModelAdmin):
    list_display = ("feedback", "sent_by", "sent_at")


User = get_user_model()


class AuditedUserAdmin(UserAdmin):
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        record(actor=f"user:{request.user.get_username()}", action="user.change" if change else "user.create",
               target=f"user:{obj.get_username()}", ip=request.META.get("REMOTE_ADDR"),
               fields=sorted(form.changed_data) if form else [])

    def delete_model(self, request, obj):
        record(actor=f"user:{request.user.get_username()}", action="user.delete", target=f"user:{obj.get_username()}",
               ip=request.META.get("REMOTE_ADDR"))
        super().delete_model(request, obj)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
