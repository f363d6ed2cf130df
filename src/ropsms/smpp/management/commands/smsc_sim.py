"""`ropsms smsc-sim`: run the bundled SMSC simulator (SMPP server + virtual phones web page)."""

from __future__ import annotations

import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ropsms.smpp.simulator import ConfigError, SimConfig, Simulator
from ropsms.smpp.simulator.config import OUTCOMES, from_environment, load_yaml, parse_accounts, parse_rule


class Command(BaseCommand):
    help = ("Run the SMSC simulator: an SMPP 3.4 server with receipts, faults and virtual phones. "
            "Settings come from settings.ROPSMS (SIM_HOST, SIM_PORT, SIM_WEB_PORT), a YAML file "
            "(--config or ROPSMS_SIM_CONFIG), ROPSMS_SIM_* variables and these options, in that order.")

    def add_arguments(self, parser):
        parser.add_argument("--config", help="YAML file with simulator settings (see the README)")
        parser.add_argument("--host")
        parser.add_argument("--port", type=int, help="SMPP port (0 = any free port)")
        parser.add_argument("--web-port", type=int, help="virtual phones / control API port")
        parser.add_argument("--account", action="append", metavar="SYSTEM_ID:PASSWORD",
                            help="an ESME account (repeat for more); replaces the default ropsms:secret")
        parser.add_argument("--id-format",
                            help="message ids in submit_sm_resp: hex, HEX, decimal, hex0, HEX0, decimal0")
        parser.add_argument("--receipt-id-format", help="message ids in receipts, if different (e.g. decimal)")
        parser.add_argument("--receipt-delay", type=float, help="seconds before the receipt; 0 = instant")
        for outcome in OUTCOMES:
            parser.add_argument(f"--{outcome}", type=float, metavar="RATIO", help=f"share of {outcome} receipts")
        parser.add_argument("--rule", action="append", metavar="MATCH=OUTCOME",
                            help="per-number rule, e.g. 0000=undeliverable, prefix:9689=expired, "
                                 "^9687=ESME_RINVDSTADR (repeat; replaces the default rules)")
        parser.add_argument("--throttle", type=int, metavar="TPS", help="ESME_RTHROTTLED above this many submit/s")
        parser.add_argument("--drop-probability", type=float, help="chance per submit_sm of dropping the link")
        parser.add_argument("--receipt-before-resp", action="store_true", default=None,
                            help="send each receipt before its submit_sm_resp")
        parser.add_argument("--no-receipt-tlvs", action="store_true", help="receipt text only, no TLVs")
        parser.add_argument("--enquire-link", type=float, help="seconds between the simulator's enquire_link")
        parser.add_argument("--seed", type=int, help="random seed for outcomes and drops")
        parser.add_argument("--tls-cert", metavar="PEM", help="serve SMPP over TLS with this server certificate "
                                                              "(chain first, PEM); needs --tls-key")
        parser.add_argument("--tls-key", metavar="PEM", help="the server certificate's private key (PEM)")
        parser.add_argument("--tls-client-ca", metavar="PEM",
                            help="require client certificates signed by this CA bundle (mutual TLS)")

    def handle(self, *args, **opts):
        r = settings.ROPSMS
        values = {"host": r.get("SIM_HOST", "127.0.0.1"), "port": r.get("SIM_PORT", 2775),
                  "web_port": r.get("SIM_WEB_PORT", 8025), "country_code": str(r.get("COUNTRY_CODE", "968")),
                  "short_code": str(r.get("SHORT_CODE", "90085"))}
        try:
            values = from_environment(values)
            if opts["config"]:
                values.update(load_yaml(opts["config"]))
            values.update(self._options(opts))
            if "accounts" in values and isinstance(values["accounts"], str):
                values["accounts"] = parse_accounts(values["accounts"])
            config = SimConfig(**values)
        except (ConfigError, TypeError, ValueError) as exc:
            raise CommandError(f"simulator settings: {exc}") from None
        logging.getLogger("ropsms.smpp.simulator").setLevel(logging.INFO)
        asyncio.run(self._serve(config))

    def _options(self, opts) -> dict:
        out = {}
        simple = {"host": "host", "port": "port", "web_port": "web_port", "id_format": "id_format",
                  "receipt_id_format": "receipt_id_format", "receipt_delay": "receipt_delay",
                  "throttle": "throttle_tps", "drop_probability": "drop_probability",
                  "receipt_before_resp": "receipt_before_resp", "enquire_link": "enquire_link_interval",
                  "seed": "seed", "tls_cert": "tls_cert_file", "tls_key": "tls_key_file",
                  "tls_client_ca": "tls_client_ca_file"}
        for opt, name in simple.items():
            if opts.get(opt) is not None:
                out[name] = opts[opt]
        if opts.get("account"):
            out["accounts"] = parse_accounts(",".join(opts["account"]))
        ratios = {o: opts[o] for o in OUTCOMES if opts.get(o) is not None}
        if ratios:
            out["outcomes"] = ratios
        if opts.get("rule"):
            out["rules"] = [parse_rule(text) for text in opts["rule"]]
        if opts.get("no_receipt_tlvs"):
            out["receipt_tlvs"] = False
        return out

    async def _serve(self, config: SimConfig) -> None:
        sim = Simulator(config)
        try:
            await sim.start()
        except ConfigError as exc:
            raise CommandError(f"simulator settings: {exc}") from None
        except OSError as exc:
            raise CommandError(f"cannot listen on {config.host}:{config.port}/{config.web_port}: {exc.strerror}. "
                               "Is another simulator running? Use --port / --web-port.") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write(
            f"SMSC simulator: SMPP{' over TLS' if config.tls else ''} on {config.host}:{sim.port}, virtual phones on "
            f"http://{config.host}:{sim.web_port}/ ; accounts: {', '.join(sorted(config.accounts))}; "
            f"receipts after {config.receipt_delay}s"
        )
        self.stdout.flush()
        await stop.wait()
        await sim.stop()
        self.stdout.write("SMSC simulator stopped")
