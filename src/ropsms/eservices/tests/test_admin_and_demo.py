"""Admin pages for commands (add one, it answers at once) and the demo registry loader."""

import io

import pytest
from django.contrib.auth import get_user_model

from ropsms.directory.models import Person
from ropsms.eservices import demo
from ropsms.eservices.models import Command, DataSource, Vehicle, Violation

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("es-admin", "es@example.om", "a-long-password-1")
    client.force_login(user)
    return client


def test_admin_lists_and_adds_a_command_that_works_at_once(admin_client, registry, ask):
    page = admin_client.get("/admin/eservices/command/")
    assert page.status_code == 200 and b"fines-plate" in page.content
    for url in ["/admin/eservices/exchange/", "/admin/eservices/feedback/", "/admin/eservices/datasource/",
                "/admin/eservices/vehicle/", "/admin/eservices/block/"]:
        assert admin_client.get(url).status_code == 200, url
    demo_source = DataSource.objects.get(name="demo")
    form = {
        "code": "mulkiya-date", "name_en": "Mulkiya date", "name_ar": "تاريخ الملكية", "enabled": "on",
        "order": "25", "action": "query", "keywords_en": "MULK", "keywords_ar": "ملك",
        "param_pattern": Command.objects.get(code="vehicle-registration").param_pattern, "example": "MULK 12345 AB",
        "source": str(demo_source.pk), "query": "vehicle_registration", "reply_en": "{plate} expires {expiry}",
        "reply_ar": "{plate} تنتهي {expiry}", "item_en": "", "item_ar": "", "empty_en": "", "empty_ar": "",
        "help_en": "mulkiya date", "help_ar": "تاريخ الملكية",
    }
    bad = admin_client.post("/admin/eservices/command/add/", {**form, "param_pattern": "(unclosed"})
    assert bad.status_code == 200 and b"not a valid regular expression" in bad.content
    no_source = admin_client.post("/admin/eservices/command/add/", {**form, "source": ""})
    assert b"needs a data source and a query name" in no_source.content
    done = admin_client.post("/admin/eservices/command/add/", form)
    assert done.status_code == 302, done.content[:2000]
    assert ask("91234567", "mulk 12345 ab").startswith("12345 AB expires ")
    assert ask("91234567", "ملك ١٢٣٤٥ أ ب").startswith("12345 AB تنتهي ")


@pytest.mark.pg  # PostgreSQL enforces column lengths: a too-long reference failed there only
def test_demo_registry_loads_and_is_idempotent():
    out = io.StringIO()
    demo.load(out)
    assert "eservices demo registry" in out.getvalue()
    people, vehicles, fines = Person.objects.count(), Vehicle.objects.count(), Violation.objects.count()
    assert people >= 3000 and vehicles >= 2000 and fines >= 3000
    demo.load(io.StringIO())
    assert (Person.objects.count(), Vehicle.objects.count(), Violation.objects.count()) == (people, vehicles, fines)
    ahmed = Person.objects.get(civil_id="12345678")
    assert ahmed.mobile == "+96891234567" and ahmed.name_ar == "أحمد بن سالم البلوشي"
    assert Vehicle.objects.get(plate_number="12345", plate_code="AB").owner == ahmed
    assert not Person.objects.filter(mobile=demo.STRANGER).exists()
    amounts = Violation.objects.values_list("amount", flat=True)[:50]
    assert all(a.as_tuple().exponent == -3 for a in amounts)  # OMR with baisa
    assert Person.objects.filter(kind="company").exclude(cr_number=None).count() >= 50
