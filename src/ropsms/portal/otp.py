"""Two-factor authentication (TOTP, django-otp): optional for everyone, required for admin roles.

`otp_required_redirect()` sends an admin-role user who has not verified this session to enrolment
(no device yet: a QR code to scan) or to the code page. `ROPSMS_PORTAL_OTP_REQUIRED=0` turns the
requirement off (e.g. a throw-away demo); the pages stay available.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from ropsms.ops.audit import record
from ropsms.portal.access import PortalUser, portal_user
from ropsms.portal.forms import OtpForm
from ropsms.settings import env_bool


def otp_required() -> bool:
    return getattr(settings, "ROPSMS_PORTAL_OTP_REQUIRED", env_bool("ROPSMS_PORTAL_OTP_REQUIRED", True))


def otp_required_redirect(request: HttpRequest, pu: PortalUser):
    """Where to send a user who must still give a code: anyone who enrolled a device, and admin roles."""
    if request.user.is_verified():
        return None
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        return redirect(f"{reverse('portal:otp_verify')}?{urlencode({'next': request.get_full_path()})}")
    if otp_required() and pu.needs_otp:
        return redirect("portal:otp_setup")
    return None


def _qr_svg(uri: str) -> str:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return img.to_string(encoding="unicode")


@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the QR code, type a code to confirm."""
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        if not request.user.is_verified():
            return redirect("portal:otp_verify")
        return render(request, "portal/otp_setup.html", {"enabled": True})
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="portal", confirmed=False)
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].strip()):
            device.confirmed = True
            device.save()
            otp_login(request, device)
            record(actor=f"user:{request.user.get_username()}", action="user.otp_enrol",
                   ip=request.META.get("REMOTE_ADDR"))
            messages.success(request, _("Two-factor authentication is on for your account."))
            return redirect("portal:dashboard")
        form.add_error("token", _("That code is not valid; check the clock of your phone and try the next code."))
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(request, "portal/otp_setup.html", {"form": form, "qr": _qr_svg(device.config_url),
                                                     "secret": secret,
                                                     "required": portal_user(request.user).needs_otp})


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        for device in TOTPDevice.objects.filter(user=request.user, confirmed=True):
            if device.verify_token(form.cleaned_data["token"].strip()):
                otp_login(request, device)
                nxt = request.GET.get("next", "")
                if url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
                    return redirect(nxt)
                return redirect("portal:dashboard")
        record(actor=f"user:{request.user.get_username()}", action="user.otp_failed",
               ip=request.META.get("REMOTE_ADDR"))
        form.add_error("token", _("That code is not valid."))
    return render(request, "portal/otp_verify.html", {"form": form})
