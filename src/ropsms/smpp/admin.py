"""Admin pages for operators, binds, routes, ported numbers and the gateway's status."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ropsms.smpp.models import Bind, BindLease, GatewayStatus, Operator, PortedNumber, Route


class BindForm(forms.ModelForm):
    # Shown as a password field; left empty on edit, the stored password is kept.
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), required=False, max_length=9,
                               help_text="leave empty to keep the current password")

    class Meta:
        model = Bind
        fields = ["operator", "name", "enabled", "order", "host", "port", "tls", "tls_ca_file", "tls_cert_file",
                  "tls_key_file", "tls_server_name", "system_id", "password",
                  "system_type", "mode", "address_range", "source_addresses", "tps", "window",
                  "enquire_link_seconds", "response_timeout_seconds", "reconnect_min_seconds",
                  "reconnect_max_seconds"]

    def clean_password(self):
        value = self.cleaned_data.get("password")
        if not value and self.instance.pk:
            return self.instance.password
        return value or ""


class BindInline(admin.StackedInline):
    model = Bind
    form = BindForm
    extra = 0


class RouteInline(admin.TabularInline):
    model = Route
    extra = 0


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled"]
    inlines = [BindInline, RouteInline]


@admin.register(Bind)
class BindAdmin(admin.ModelAdmin):
    form = BindForm
    list_display = ["name", "operator", "mode", "host", "port", "system_id", "tps", "window", "enabled"]
    list_filter = ["operator", "mode", "enabled"]


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    list_display = ["prefix", "operator", "priority", "enabled"]
    list_filter = ["operator"]


@admin.register(PortedNumber)
class PortedNumberAdmin(admin.ModelAdmin):
    list_display = ["msisdn", "operator", "ported_at"]
    search_fields = ["msisdn"]
    list_filter = ["operator"]


@admin.register(BindLease)
class BindLeaseAdmin(admin.ModelAdmin):
    list_display = ["bind", "owner", "until"]
    readonly_fields = ["bind", "owner", "until"]


@admin.register(GatewayStatus)
class GatewayStatusAdmin(admin.ModelAdmin):
    list_display = ["node", "bind", "connected", "updated_at", "last_error"]
    readonly_fields = ["node", "bind", "connected", "updated_at", "last_error", "counters"]

    @admin.display(description=_("last link error"))
    def last_error(self, obj: GatewayStatus) -> str:
        counters = obj.counters or {}
        if not counters.get("last_error_at"):
            return ""
        return f"{counters.get('last_error', '')} ({counters['last_error_at']})"
