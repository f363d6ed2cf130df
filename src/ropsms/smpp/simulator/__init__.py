"""The bundled SMSC simulator: an SMPP 3.4 server with virtual phones, for development, demos and tests.

Run it with `ropsms smsc-sim` (see `ropsms smsc-sim --help` and the README). In-process use:

    from ropsms.smpp.simulator import Simulator, SimConfig

    sim = Simulator(SimConfig(port=0, web_port=0, receipt_delay=0))   # 0 = free ports, instant receipts
    await sim.start()
    sim.port, sim.web_port                       # where it listens (SMPP, HTTP control/web page)
    ...                                          # bind system_id "ropsms" / password "secret"
    sim.inbox("91234567")                        # MT messages that phone got (Entry: text, parts, state, ...)
    sim.conversation("91234567")                 # MT and MO, oldest first
    sim.stats["submits_accepted"], sim.snapshot()
    sim.set_faults(throttle_tps=5, receipt_before_resp=True, drop_probability=0.01, drop_after=10,
                   outcomes={"delivered": 0.9, "undeliverable": 0.1}, receipt_delay=2.0, submit_status=0x45)
    sim.drop_all()                               # drop every connection now (no unbind)
    sim.send_malformed(2)                        # malformed PDUs to every bound ESME
    sim.send_mo("91234567", "FINE 12345")        # an MO to the bound gateway (raises NoGatewayBound)
    await sim.wait_until(lambda: len(sim.inbox("91234567")) == 1, timeout=5)
    await sim.stop()

From synchronous code (Django tests, a gateway running in another thread or process):

    with running_simulator(receipt_delay=0) as sim:     # its own event loop in a daemon thread
        ...  sim.port ...  sim.call(sim.send_mo, "91234567", "hi")  # run a callable in its loop

Behaviour in short: bind credentials are checked (ESME_RINVSYSID / ESME_RINVPASWD / ESME_RALYBND);
submit_sm and data_sm get a message id in the configured format (hex, HEX, decimal, zero-padded);
receipts are deliver_sm with esm_class 0x04, the receipt text and the receipted_message_id +
message_state TLVs, after `receipt_delay` with outcomes from per-number rules (default: numbers
ending 0000 undeliverable, 0001 expired) or the configured ratios; receipts and MOs for an ESME
that is not bound wait and are sent when it binds again, and whatever it did not acknowledge
before a disconnect is sent again (so the gateway sees duplicates, as with a real SMSC).
Concatenated MT (UDH 8/16-bit and sar_* TLVs) is reassembled per phone; GSM and UCS-2 decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .config import ConfigError, Rule, SimConfig
from .phones import Entry, canonical_number
from .smsc import NoGatewayBound, Session, Simulator

__all__ = ["ConfigError", "Entry", "NoGatewayBound", "Rule", "Session", "SimConfig", "Simulator",
           "SimulatorThread", "canonical_number", "running_simulator"]

T = TypeVar("T")


class SimulatorThread:
    """A Simulator running in its own event loop on a daemon thread."""

    def __init__(self, config: SimConfig | None = None, **overrides: Any) -> None:
        if config is None:  # free ports unless told otherwise
            config, overrides = SimConfig(**{"port": 0, "web_port": 0, **overrides}), {}
        self.sim = Simulator(config, **overrides)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="smsc-sim", daemon=True)

    def start(self) -> Simulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(10)
        self.sim.call = self.call  # type: ignore[attr-defined]
        self.sim.run = self.run  # type: ignore[attr-defined]
        return self.sim

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a plain callable in the simulator's loop and return its result."""

        async def wrapper() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(10)

    def run(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine in the simulator's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self.loop.is_running():
            self.loop.close()


@contextlib.contextmanager
def running_simulator(config: SimConfig | None = None, **overrides: Any) -> Iterator[Simulator]:
    """`with running_simulator(receipt_delay=0) as sim:` a simulator on free ports for the block."""
    runner = SimulatorThread(config, **overrides)
    sim = runner.start()
    try:
        yield sim
    finally:
        runner.stop()
