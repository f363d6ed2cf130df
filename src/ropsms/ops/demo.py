"""Demo login for the embedded default: one system administrator with a generated password."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model

DEMO_USERNAME = "admin"


def demo_password_file():
    return settings.VAR_DIR / "demo-login.txt"


def load(stdout) -> None:
    User = get_user_model()
    path = demo_password_file()
    if User.objects.filter(username=DEMO_USERNAME).exists() and path.exists():
        return
    password = secrets.token_urlsafe(9)
    user, _ = User.objects.get_or_create(username=DEMO_USERNAME, defaults={"email": "admin@example.om"})
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    path.write_text(f"{DEMO_USERNAME} {password}\n")
    path.chmod(0o600)
    stdout.write(f"demo login: {DEMO_USERNAME} / {password} (saved in {path})")


def demo_login() -> tuple[str, str] | None:
    path = demo_password_file()
    if not path.exists():
        return None
    user, _, password = path.read_text().strip().partition(" ")
    return user, password
