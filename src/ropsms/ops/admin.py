from django.contrib import admin

from ropsms.ops.models import AuditEntry, JobRun


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "action", "target", "unit", "ip")
    list_filter = ("action",)
    search_fields = ("actor", "action", "target")
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    """Read-only: the scheduler writes these (see README, Operations)."""

    list_display = ("name", "last_run_at", "last_ok", "failures", "duration_ms", "last_error")
    list_filter = ("last_ok",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
