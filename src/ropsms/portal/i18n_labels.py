"""Labels defined in other apps that portal pages show, marked here so `makemessages` keeps their
Arabic in the portal's catalog (messaging states, feedback statuses, group fields)."""

from django.utils.translation import gettext_noop as _

LABELS = [
    _("scheduled"), _("queued"), _("sending"), _("submitted"), _("delivered"), _("undeliverable"), _("expired"),
    _("failed"), _("new"), _("assigned"), _("in progress"), _("resolved"), _("closed"), _("static list"),
    _("dynamic (by unit / rank)"), _("name (English)"), _("name (Arabic)"), _("kind"), _("owner unit"), _("units"),
    _("ranks"), _("members"),
]
