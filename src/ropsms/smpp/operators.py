"""Load operators, binds, routes and ported numbers from a YAML or TOML file (`ropsms load-operators`).

The file describes the wanted state; loading it creates or updates what it names (by name /
prefix / number) and leaves everything else alone, so it is safe to run again. Passwords can come
from the environment (`password_env: OMANTEL_SMPP_PASSWORD`) so the file holds no secret.

    operators:
      - name: Omantel
        binds:
          - {name: omantel-1, host: smsc.omantel.example, port: 2775, system_id: rop,
             password_env: OMANTEL_SMPP_PASSWORD, mode: trx, tps: 200, window: 64}
          - {name: omantel-tls, host: 10.20.0.5, port: 3775, system_id: rop, password_env: OMANTEL_SMPP_PASSWORD,
             tls: true, tls_ca_file: /etc/ropsms/omantel-ca.pem, tls_server_name: smsc.omantel.example,
             tls_cert_file: /etc/ropsms/rop-client.pem, tls_key_file: /etc/ropsms/rop-client.key}
        routes:
          - {prefix: "9689", priority: 0}
    ported:
      - {msisdn: "96891234567", operator: Ooredoo}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ropsms.smpp.models import Bind, Operator, PortedNumber, Route

BIND_FIELDS = {"host", "port", "tls", "tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name",
               "system_id", "password", "system_type", "mode", "address_range",
               "source_addresses", "tps", "window", "enquire_link_seconds", "response_timeout_seconds",
               "reconnect_min_seconds", "reconnect_max_seconds", "order", "enabled"}


class OperatorFileError(ValueError):
    """The operators file cannot be loaded; the message says where and what to write instead."""


def read_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OperatorFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as exc:
        raise OperatorFileError(f"{path} is not valid {path.suffix.lstrip('.').upper() or 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise OperatorFileError(f"{path}: expected 'operators:' (and optionally 'ported:') at the top level")
    return data


def _bind_values(spec: dict[str, Any], where: str) -> dict[str, Any]:
    spec = dict(spec)
    env = spec.pop("password_env", None)
    if env:
        if env not in os.environ:
            raise OperatorFileError(f"{where}: environment variable {env} (password_env) is not set")
        spec["password"] = os.environ[env]
    if isinstance(spec.get("source_addresses"), list):
        spec["source_addresses"] = ",".join(str(s) for s in spec["source_addresses"])
    unknown = set(spec) - BIND_FIELDS - {"name"}
    if unknown:
        raise OperatorFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
                                f"known: {', '.join(sorted(BIND_FIELDS | {'name', 'password_env'}))}")
    if bool(spec.get("tls_cert_file")) != bool(spec.get("tls_key_file")):
        given, missing = (("tls_cert_file", "tls_key_file") if spec.get("tls_cert_file")
                          else ("tls_key_file", "tls_cert_file"))
        raise OperatorFileError(f"{where}: {given} without {missing}; a client certificate for mutual TLS "
                                "needs both (or neither)")
    spec.pop("name", None)
    return spec


@transaction.atomic
def load(data: dict[str, Any]) -> dict[str, int]:
    """Create/update what `data` describes; return counts. Raises OperatorFileError, changes nothing then."""
    counts = {"operators": 0, "binds": 0, "routes": 0, "ported": 0}
    operators = data.get("operators") or []
    if not isinstance(operators, list):
        raise OperatorFileError("'operators' must be a list")
    for i, op in enumerate(operators, start=1):
        if not isinstance(op, dict) or not op.get("name"):
            raise OperatorFileError(f"operator #{i}: every operator needs a name")
        operator, _ = Operator.objects.update_or_create(
            name=op["name"], defaults={"enabled": op.get("enabled", True), "notes": op.get("notes", "")})
        counts["operators"] += 1
        for j, spec in enumerate(op.get("binds") or [], start=1):
            where = f"operator {operator.name}, bind #{j}"
            if not spec.get("name") or not spec.get("host") or not spec.get("system_id"):
                raise OperatorFileError(f"{where}: name, host and system_id are required")
            bind = Bind.objects.filter(name=spec["name"]).first() or Bind(name=spec["name"])
            bind.operator = operator
            for key, value in _bind_values(spec, where).items():
                setattr(bind, key, value)
            try:
                bind.full_clean()
            except ValidationError as exc:
                problems = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.message_dict.items())
                raise OperatorFileError(f"{where} ({spec['name']}): {problems}") from None
            bind.save()
            counts["binds"] += 1
        for j, spec in enumerate(op.get("routes") or [], start=1):
            prefix = str(spec.get("prefix", "")).lstrip("+")
            if not prefix.isdigit() and prefix != "":
                raise OperatorFileError(f"operator {operator.name}, route #{j}: prefix must be digits (E.164)")
            Route.objects.update_or_create(prefix=prefix, operator=operator,
                                           defaults={"priority": int(spec.get("priority", 0)),
                                                     "enabled": spec.get("enabled", True)})
            counts["routes"] += 1
    for i, spec in enumerate(data.get("ported") or [], start=1):
        msisdn = str(spec.get("msisdn", "")).lstrip("+")
        operator = Operator.objects.filter(name=spec.get("operator", "")).first()
        if not msisdn.isdigit() or operator is None:
            raise OperatorFileError(f"ported #{i}: needs msisdn (digits) and a known operator name")
        PortedNumber.objects.update_or_create(msisdn=msisdn, defaults={"operator": operator})
        counts["ported"] += 1
    return counts
