"""Operators from a YAML/TOML file (`ropsms load-operators`), demo data, admin pages."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ropsms.ops.models import AuditEntry
from ropsms.smpp import demo
from ropsms.smpp.models import Bind, Operator, PortedNumber, Route

pytestmark = [pytest.mark.django_db, pytest.mark.pg]

YAML = """
operators:
  - name: Omantel
    binds:
      - {name: omantel-1, host: smsc.omantel.example, port: 2775, system_id: rop, password_env: OMT_PW,
         mode: pair, tps: 200, window: 64, source_addresses: ["90085", "ROP"]}
    routes:
      - {prefix: "9689", priority: 0}
  - name: Ooredoo
    binds:
      - {name: ooredoo-1, host: 10.0.0.2, system_id: rop2, password: pw2}
    routes:
      - {prefix: "9687"}
      - {prefix: "", priority: 9}
ported:
  - {msisdn: "+96891234567", operator: Ooredoo}
"""


def test_load_operators_from_yaml_is_idempotent_and_audited(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OMT_PW", "s3cret")
    path = tmp_path / "operators.yaml"
    path.write_text(YAML)
    call_command("load_operators", str(path))
    call_command("load_operators", str(path))
    assert "2 operators, 2 binds, 3 routes, 1 ported loaded" in capsys.readouterr().out
    bind = Bind.objects.get(name="omantel-1")
    assert (bind.operator.name, bind.mode, bind.password, bind.tps) == ("Omantel", "pair", "s3cret", 200)
    assert bind.allows_source("ROP") and not bind.allows_source("OTHER")
    assert Route.objects.count() == 3 and Operator.objects.count() == 2
    assert PortedNumber.objects.get().msisdn == "96891234567"
    assert AuditEntry.objects.filter(action="smpp.load_operators").count() == 2
    assert "s3cret" not in str(AuditEntry.objects.first().detail)


def test_load_operators_toml_and_clear_errors(tmp_path, monkeypatch):
    path = tmp_path / "ops.toml"
    path.write_text('[[operators]]\nname = "Op"\n[[operators.binds]]\nname = "b"\nhost = "h"\nsystem_id = "s"\n'
                    'mode = "sideways"\n')
    with pytest.raises(CommandError, match=r"mode: Value .sideways. is not a valid choice"):
        call_command("load_operators", str(path))
    assert not Operator.objects.exists()  # nothing half-loaded
    path.write_text('[[operators]]\nname = "Op"\n[[operators.binds]]\nname = "b"\nhost = "h"\nsystem_id = "s"\n'
                    'password_env = "NOPE_NOT_SET"\n')
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    with pytest.raises(CommandError, match="NOPE_NOT_SET"):
        call_command("load_operators", str(path))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("load_operators", str(tmp_path / "missing.yaml"))


def test_demo_data_binds_to_the_simulator(settings):
    demo.load(stdout=type("Out", (), {"write": lambda self, s: None})())
    demo.load(stdout=type("Out", (), {"write": lambda self, s: None})())
    bind = Bind.objects.get(name="simulator")
    assert (bind.host, bind.port) == (settings.ROPSMS["SIM_HOST"], settings.ROPSMS["SIM_PORT"])
    assert (bind.system_id, bind.password, bind.mode) == ("ropsms", "secret", "trx")
    assert Route.objects.get(operator__name="Simulator").prefix == ""


def test_admin_pages_list_and_edit_binds_without_showing_the_password(admin_client):
    demo.load(stdout=type("Out", (), {"write": lambda self, s: None})())
    bind = Bind.objects.get(name="simulator")
    for url in ["/admin/smpp/operator/", "/admin/smpp/bind/", "/admin/smpp/route/", "/admin/smpp/portednumber/",
                f"/admin/smpp/bind/{bind.pk}/change/", f"/admin/smpp/operator/{bind.operator_id}/change/"]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert b"secret" not in response.content
