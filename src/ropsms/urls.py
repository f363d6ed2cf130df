"""URL map. Each app mounts its own urls module; apps not yet built contribute nothing."""

from importlib import import_module

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
]


def _optional(module: str) -> list:
    """Return the app's urlpatterns if it defines a urls module (lets apps land one at a time)."""
    try:
        return import_module(module).urlpatterns
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return []


urlpatterns += _optional("ropsms.ops.urls")
urlpatterns += _optional("ropsms.api.urls")
urlpatterns += _optional("ropsms.smpp.urls")
# Not i18n_patterns: with an unprefixed default language, LocaleMiddleware would force every
# unprefixed URL (the whole portal) to English and ignore the language switcher's cookie.
urlpatterns += [path("admin/", admin.site.urls)]
# The portal is namespaced ("portal:compose", ...) and mounted last, at the root.
urlpatterns += [path("", include(("ropsms.portal.urls", "portal")))] if _optional("ropsms.portal.urls") else []
