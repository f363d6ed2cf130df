"""Admin: messages are read-only (the outbox is written only by send()); batches show live counts."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ropsms.messaging.models import Batch, InboundMessage, Message, OptOut


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "to", "state", "priority", "encoding", "parts_count", "producer", "created_at", "done_at")
    list_filter = ("state", "priority", "encoding", "producer")
    search_fields = ("=id", "to", "client_ref", "operator_message_id")
    date_hierarchy = "created_at"
    list_select_related = ("batch",)
    show_full_result_count = False


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "producer", "total", "created_at", "live_counts")
    search_fields = ("name", "producer")
    readonly_fields = ("producer", "idempotency_key", "total", "created_at", "live_counts")

    @admin.display(description=_("counts by state"))
    def live_counts(self, obj: Batch) -> str:
        return ", ".join(f"{state}: {n}" for state, n in obj.counts().items() if n)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ("msisdn", "scope", "reason", "created_at")
    search_fields = ("msisdn",)


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "msisdn", "to", "received_at", "operator", "handler_result")
    search_fields = ("msisdn",)
    date_hierarchy = "received_at"
