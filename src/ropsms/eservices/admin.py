"""Admin pages: commands and data sources are configured here and take effect on the next MO."""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin

from ropsms.eservices import models


class CommandForm(forms.ModelForm):
    class Meta:
        model = models.Command
        fields = "__all__"  # noqa: DJ007 - every field of a command is configuration

    def clean_param_pattern(self) -> str:
        pattern = self.cleaned_data.get("param_pattern", "")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise forms.ValidationError(f"This is not a valid regular expression: {exc}") from None
        return pattern

    def clean(self):
        data = super().clean()
        if data.get("action") == models.Command.Action.QUERY and not (data.get("source") and data.get("query")):
            raise forms.ValidationError("A look-up command needs a data source and a query name.")
        return data


@admin.register(models.Command)
class CommandAdmin(admin.ModelAdmin):
    form = CommandForm
    list_display = ["code", "keywords_en", "keywords_ar", "action", "source", "query", "public", "enabled", "order"]
    list_editable = ["enabled", "order"]
    list_filter = ["enabled", "public", "action", "source"]
    search_fields = ["code", "keywords_en", "keywords_ar", "name_en", "name_ar"]
    fieldsets = [
        (None, {"fields": ["code", "name_en", "name_ar", "enabled", "order", "action"]}),
        ("Parsing", {"fields": ["keywords_en", "keywords_ar", "param_pattern", "example"]}),
        ("Answer", {"fields": ["source", "query", "public"]}),
        ("Replies", {"fields": ["reply_en", "reply_ar", "item_en", "item_ar", "empty_en", "empty_ar",
                                "help_en", "help_ar"]}),
    ]


@admin.register(models.DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "url", "timeout_seconds", "enabled"]


@admin.register(models.Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "msisdn_masked", "command", "language", "param_masked", "result", "latency_ms",
                    "reply"]
    list_filter = ["result", "language", "command"]
    date_hierarchy = "created_at"
    list_select_related = ["command"]
    raw_id_fields = ["mo", "reply"]

    @admin.display(description="from")
    def msisdn_masked(self, obj: models.Exchange) -> str:
        from ropsms.ops.audit import mask

        return mask(obj.msisdn)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["msisdn", "reason", "created_at", "until", "notified"]
    search_fields = ["msisdn"]


@admin.register(models.Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ["ticket", "created_at", "status", "unit", "language"]
    list_filter = ["status", "unit"]
    search_fields = ["ticket", "msisdn"]
    raw_id_fields = ["mo", "person"]


@admin.register(models.Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ["plate_number", "plate_code", "make", "model", "registration_expiry"]
    search_fields = ["plate_number"]
    raw_id_fields = ["owner"]


@admin.register(models.Violation)
class ViolationAdmin(admin.ModelAdmin):
    list_display = ["reference", "committed_at", "place_en", "amount", "paid"]
    list_filter = ["paid"]
    search_fields = ["reference"]
    raw_id_fields = ["vehicle", "person"]


for _model in (models.DrivingLicence, models.Passport, models.IdentityCard, models.Visa):
    admin.site.register(_model, raw_id_fields=["person"])
admin.site.register(models.VisaApplication, list_display=["number", "status", "submitted_on", "updated_on"],
                    search_fields=["number"])
