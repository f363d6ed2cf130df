"""Simulator settings: accounts, message-id format, receipt outcomes and fault switches.

One `SimConfig` object, filled from (lowest to highest priority) its defaults, a YAML file
(`--config sim.yaml` or ROPSMS_SIM_CONFIG), environment variables (ROPSMS_SIM_ACCOUNTS,
ROPSMS_SIM_ID_FORMAT, ROPSMS_SIM_RECEIPT_DELAY, ROPSMS_SIM_THROTTLE) and command-line options.
Everything below a "fault" heading can also be changed while running (POST /api/faults).
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

OUTCOMES = ("delivered", "undeliverable", "expired", "rejected")
ID_FORMATS = ("hex", "HEX", "decimal", "hex0", "HEX0", "decimal0")
# outcome -> (message_state, stat word, err)
OUTCOME_RECEIPT = {
    "delivered": (2, "DELIVRD", 0),
    "undeliverable": (5, "UNDELIV", 1),
    "expired": (3, "EXPIRED", 0),
    "rejected": (8, "REJECTD", 2),
}


class ConfigError(ValueError):
    """A simulator setting that cannot be used, with what to write instead."""


@dataclass
class Rule:
    """A per-number rule: numbers matching `match` get this `outcome`, or are refused at submit
    with `submit_status` (an ESME_* code). `match` is `suffix:0000`, `prefix:9689`, or a regex."""

    match: str
    outcome: str | None = None
    submit_status: int | None = None

    def __post_init__(self) -> None:
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ConfigError(f"rule {self.match!r}: outcome must be one of {', '.join(OUTCOMES)}")
        if self.outcome is None and self.submit_status is None:
            raise ConfigError(f"rule {self.match!r}: give an outcome or a submit_status")
        kind, _, value = self.match.partition(":")
        if kind == "suffix":
            self._test = lambda n, v=value: n.endswith(v)
        elif kind == "prefix":
            self._test = lambda n, v=value: n.startswith(v)
        else:
            try:
                rx = re.compile(self.match)
            except re.error as exc:
                raise ConfigError(f"rule {self.match!r} is not a valid regex: {exc}") from None
            self._test = lambda n, rx=rx: rx.search(n) is not None

    def matches(self, number: str) -> bool:
        return self._test(number)

    def as_dict(self) -> dict[str, Any]:
        return {"match": self.match, "outcome": self.outcome, "submit_status": self.submit_status}


def default_rules() -> list[Rule]:
    return [Rule("suffix:0000", "undeliverable"), Rule("suffix:0001", "expired")]


@dataclass
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 2775  # 0 = any free port (tests)
    web_port: int = 8025  # 0 = any free port; None = no web/control server
    system_id: str = "ROPSIM"  # what the simulator answers in bind_*_resp
    accounts: dict[str, str] = field(default_factory=lambda: {"ropsms": "secret"})
    country_code: str = "968"
    short_code: str = "90085"  # default destination of MO messages
    id_format: str = "hex"  # how submit_sm_resp message ids look
    receipt_id_format: str | None = None  # how receipts write them (None: same as id_format)
    first_id: int = 1
    receipt_tlvs: bool = True  # send receipted_message_id + message_state TLVs (False: text only)
    enquire_link_interval: float = 30.0  # the simulator's own enquire_link; 0 = never
    inbox_limit: int = 500  # messages kept per phone
    seed: int | None = None
    # TLS (like an operator's SMPP-over-TLS port): PEM server certificate + key; with a client CA
    # bundle, clients must also present a certificate it signed (mutual TLS). Empty = plain TCP.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    # --- faults and behaviour (changeable at run time) ---
    receipt_delay: float = 0.5  # seconds; 0 = instant receipts (benchmarks)
    outcomes: dict[str, float] = field(default_factory=lambda: {"delivered": 1.0})
    rules: list[Rule] = field(default_factory=default_rules)
    throttle_tps: int = 0  # answer ESME_RTHROTTLED above this many submit_sm per second; 0 = off
    drop_probability: float = 0.0  # per submit_sm: drop the connection instead of answering
    drop_after: int = 0  # answer this many more submit_sm, drop every connection at the next (one-shot); 0 = off
    receipt_before_resp: bool = False  # send the receipt before the submit_sm_resp
    submit_status: int = 0  # answer every submit_sm with this error (0 = accept)

    RUNTIME = ("receipt_delay", "outcomes", "rules", "throttle_tps", "drop_probability", "drop_after",
               "receipt_before_resp", "submit_status", "id_format", "receipt_id_format", "receipt_tlvs")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in ("id_format", "receipt_id_format"):
            value = getattr(self, name)
            if value is not None and value not in ID_FORMATS:
                raise ConfigError(f"{name} must be one of {', '.join(ID_FORMATS)}, not {value!r}")
        self.rules = [r if isinstance(r, Rule) else Rule(**r) for r in self.rules]
        bad = set(self.outcomes) - set(OUTCOMES)
        if bad:
            raise ConfigError(f"unknown outcome(s) {', '.join(sorted(bad))}; use {', '.join(OUTCOMES)}")
        if any(v < 0 for v in self.outcomes.values()) or not sum(self.outcomes.values()) > 0:
            raise ConfigError("outcome ratios must be >= 0 and not all zero, e.g. delivered=0.9 undeliverable=0.1")
        if not 0 <= self.drop_probability <= 1:
            raise ConfigError("drop_probability must be between 0 and 1")
        if self.receipt_delay < 0 or self.throttle_tps < 0:
            raise ConfigError("receipt_delay and throttle_tps cannot be negative")
        if not self.accounts:
            raise ConfigError("the simulator needs at least one account (system_id: password)")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("TLS needs both tls_cert_file and tls_key_file (--tls-cert and --tls-key)")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ConfigError("tls_client_ca_file (--tls-client-ca) needs a server certificate too "
                              "(--tls-cert and --tls-key)")

    def update(self, changes: dict[str, Any], *, runtime_only: bool = True) -> None:
        """Apply changes (from YAML, the CLI or POST /api/faults); reject unknown names."""
        allowed = set(self.RUNTIME) if runtime_only else {f.name for f in fields(self)}
        unknown = set(changes) - allowed
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(allowed))}")
        old = {k: getattr(self, k) for k in changes}
        for key, value in changes.items():
            setattr(self, key, value)
        try:
            self.validate()
        except ConfigError:
            for key, value in old.items():
                setattr(self, key, value)
            raise

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file)

    def server_tls_context(self) -> ssl.SSLContext | None:
        """The listening socket's TLS context, or None for plain TCP. Raises ConfigError naming the file."""
        if not self.tls:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the TLS certificate {self.tls_cert_file} / key {self.tls_key_file}: "
                              f"{exc.strerror or exc}") from None
        if self.tls_client_ca_file:
            try:
                context.load_verify_locations(cafile=self.tls_client_ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot load the TLS client CA {self.tls_client_ca_file}: "
                                  f"{exc.strerror or exc}") from None
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def runtime_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.RUNTIME}
        out["rules"] = [r.as_dict() for r in self.rules]
        return out

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rules"] = [r.as_dict() for r in self.rules]
        out["accounts"] = sorted(self.accounts)  # never echo passwords
        return out


def parse_accounts(text: str) -> dict[str, str]:
    """`ropsms:secret,other:pw` -> {"ropsms": "secret", "other": "pw"}."""
    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        system_id, sep, password = item.partition(":")
        if not sep or not system_id:
            raise ConfigError(f"account {item!r} must be written system_id:password")
        out[system_id] = password
    return out


def parse_rule(text: str) -> Rule:
    """`0000=undeliverable` (suffix), `prefix:9689=expired`, `^9689=ESME_RINVDSTADR`, `suffix:13=0x0b`."""
    match, sep, result = text.rpartition("=")
    if not sep or not match:
        raise ConfigError(f"rule {text!r} must be written MATCH=OUTCOME, e.g. 0000=undeliverable")
    if match.isdigit():
        match = f"suffix:{match}"
    if result in OUTCOMES:
        return Rule(match, outcome=result)
    from ropsms.smpp.pdu import STATUS

    try:
        status = STATUS[result].value if result.startswith("ESME_") else int(result, 0)
    except (KeyError, ValueError):
        raise ConfigError(f"rule {text!r}: {result!r} is neither an outcome nor an ESME_* status") from None
    return Rule(match, submit_status=status)


def load_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read simulator config {path}: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


def from_environment(base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings from ROPSMS_SIM_CONFIG (a YAML file) and ROPSMS_SIM_* variables."""
    out: dict[str, Any] = dict(base or {})
    path = os.environ.get("ROPSMS_SIM_CONFIG")
    if path:
        out.update(load_yaml(path))
    if os.environ.get("ROPSMS_SIM_ACCOUNTS"):
        out["accounts"] = parse_accounts(os.environ["ROPSMS_SIM_ACCOUNTS"])
    if os.environ.get("ROPSMS_SIM_ID_FORMAT"):
        out["id_format"] = os.environ["ROPSMS_SIM_ID_FORMAT"]
    if os.environ.get("ROPSMS_SIM_RECEIPT_DELAY"):
        out["receipt_delay"] = float(os.environ["ROPSMS_SIM_RECEIPT_DELAY"])
    if os.environ.get("ROPSMS_SIM_THROTTLE"):
        out["throttle_tps"] = int(os.environ["ROPSMS_SIM_THROTTLE"])
    return out


def format_id(n: int, style: str) -> str:
    if style == "hex":
        return format(n, "x")
    if style == "HEX":
        return format(n, "X")
    if style == "decimal":
        return str(n)
    if style == "hex0":
        return format(n, "010x")
    if style == "HEX0":
        return format(n, "010X")
    return format(n, "012d")  # decimal0
