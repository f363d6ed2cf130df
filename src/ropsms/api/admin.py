"""Admin for API clients (key shown once, rotation, revocation), events and delivery callbacks."""

from __future__ import annotations

import os
from datetime import timedelta

from django.contrib import admin, messages
from django.db import models
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ropsms.api import callbacks, keys
from ropsms.api.inbound import forget_owners
from ropsms.api.models import ApiClient, ApiKey, Callback, DailyUsage, Event
from ropsms.ops.audit import record

# How long the previous keys keep working after a rotation (ROPSMS_API_KEY_OVERLAP_HOURS, default 24).
ROTATION_OVERLAP = timedelta(hours=float(os.environ.get("ROPSMS_API_KEY_OVERLAP_HOURS", "24")))


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


def _show_secrets(request: HttpRequest, items: list[dict]) -> HttpResponse:
    """The one page where a new key / webhook secret appears; never cached, never stored."""
    response = TemplateResponse(request, "api/admin/secrets_shown.html", {
        **admin.site.each_context(request), "items": items, "title": "API credentials",
        "base_url": request.build_absolute_uri("/").rstrip("/"),
        "back_url": reverse("admin:api_apiclient_changelist")})
    response["Cache-Control"] = "no-store"
    return response


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("prefix", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "active", "scopes", "daily_quota", "sent_today", "rate_limit", "keys_in_use")
    list_filter = ("active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [ApiKeyInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["rotate_keys", "revoke_keys", "rotate_webhook_secret"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "active", "scopes")}),
        (_("Limits"), {"fields": ("allowed_senders", "ip_allowlist", "daily_quota", "rate_limit")}),
        (_("Callbacks and inbound"), {"fields": ("callback_url", "keywords")}),
    )

    @admin.display(description=_("usable keys"))
    def keys_in_use(self, obj: ApiClient) -> int:
        return sum(1 for k in obj.keys.all() if k.usable())

    @admin.display(description=_("sent today"))
    def sent_today(self, obj: ApiClient) -> int:
        return next((u.count for u in obj.usage.all() if u.day == timezone.localdate()), 0)

    def get_queryset(self, request):
        today = DailyUsage.objects.filter(day=timezone.localdate())
        return super().get_queryset(request).prefetch_related("keys", Prefetch("usage", queryset=today))

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        keys.forget_cached_keys()  # scope / limit changes apply at once in this process
        forget_owners()
        record(actor=_actor(request), action="api.client.change" if change else "api.client.create",
               target=obj.producer, fields=sorted(form.changed_data))

    def response_add(self, request, obj, post_url_continue=None):
        issued = keys.issue_key(client=obj, actor=_actor(request))
        return _show_secrets(request, [{"client": obj, "key": issued.key, "webhook_secret": obj.webhook_secret,
                                        "note": "Username for Kannel and SMPP: " + obj.slug}])

    @admin.action(description=_("Rotate API keys (the old keys keep working for an overlap period)"))
    def rotate_keys(self, request, queryset):
        items = []
        for client in queryset:
            issued = keys.issue_key(client=client, actor=_actor(request), overlap=ROTATION_OVERLAP)
            until = timezone.localtime(timezone.now() + ROTATION_OVERLAP).strftime("%Y-%m-%d %H:%M")
            items.append({"client": client, "key": issued.key, "note": f"The previous keys stop working at {until}."})
        return _show_secrets(request, items)

    @admin.action(description=_("Revoke all API keys now"))
    def revoke_keys(self, request, queryset):
        total = sum(keys.revoke_keys(client=client, actor=_actor(request)) for client in queryset)
        self.message_user(request, f"{total} key(s) revoked.", messages.WARNING)

    @admin.action(description=_("New webhook signing secret"))
    def rotate_webhook_secret(self, request, queryset):
        items = [{"client": c, "webhook_secret": keys.rotate_webhook_secret(client=c, actor=_actor(request)),
                  "note": "Callbacks are signed with this secret from now on."} for c in queryset]
        return _show_secrets(request, items)


@admin.register(Callback)
class CallbackAdmin(admin.ModelAdmin):
    list_display = ("message_id", "client", "kind", "state", "attempts", "last_status", "last_error",
                    "next_attempt_at", "done_at")
    list_filter = ("state", "kind", "client")
    search_fields = ("=message__id", "url")
    readonly_fields = [f.name for f in Callback._meta.fields]
    actions = ["resend"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description=_("Send again now"))
    def resend(self, request, queryset):
        n = callbacks.resend(callback_ids=list(queryset.values_list("pk", flat=True)), actor=_actor(request))
        self.message_user(request, f"{n} callback(s) will be sent again within seconds.")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "client", "event_id", "outcome", "detail", "message_id", "received_at")
    list_filter = ("type", "outcome", "client")
    search_fields = ("event_id",)
    readonly_fields = [f.name for f in Event._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
