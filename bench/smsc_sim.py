"""How fast is the SMSC simulator in instant-receipt mode? (It must not be the gateway benchmark's limit.)

Starts `ropsms smsc-sim --receipt-delay 0` as its own process on free ports, then drives it from
here with a lean pipelined ESME (window W, pre-encoded submit_sm, receipts acknowledged) and
prints submit_sm/s, receipts/s and the simulator's CPU time per message.

    .venv/bin/python bench/smsc_sim.py [-n 20000] [--window 256]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import psutil

from ropsms.smpp.pdu import Pdu, PduDecoder, encode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Esme(asyncio.Protocol):
    def __init__(self, n: int, window: int) -> None:
        self.n, self.window = n, window
        self.decoder = PduDecoder()
        self.sent = self.resps = self.receipts = 0
        self.done = asyncio.get_running_loop().create_future()
        self.bound = asyncio.get_running_loop().create_future()
        self.template = encode(Pdu("submit_sm", 0, params={
            "source_addr_ton": 5, "source_addr": "90085", "dest_addr_ton": 1, "dest_addr_npi": 1,
            "destination_addr": "96891234567", "registered_delivery": 1, "data_coding": 0,
            "short_message": b"Your traffic fine of 20.000 OMR is due on 12/12/2026."}))

    def connection_made(self, transport):
        self.transport = transport
        transport.write(encode(Pdu("bind_transceiver", 1, params={"system_id": "ropsms", "password": "secret",
                                                                    "interface_version": 0x34})))

    def pump(self) -> None:
        burst = []
        while self.sent < self.n and self.sent - self.resps < self.window:
            self.sent += 1
            seq = self.sent + 1
            burst.append(self.template[:12] + seq.to_bytes(4, "big") + self.template[16:])
        if burst:
            self.transport.write(b"".join(burst))

    def data_received(self, data):
        acks = []
        for pdu in self.decoder.feed(data):
            if pdu.command == "submit_sm_resp":
                self.resps += 1
            elif pdu.command == "deliver_sm":
                self.receipts += 1
                acks.append(encode(pdu.response(message_id="")))
            elif pdu.command == "bind_transceiver_resp":
                self.bound.set_result(pdu.status)
        if acks:
            self.transport.write(b"".join(acks))
        if self.bound.done():
            self.pump()
        if self.receipts >= self.n and self.resps >= self.n and not self.done.done():
            self.done.set_result(time.perf_counter())


async def drive(port: int, n: int, window: int) -> dict:
    loop = asyncio.get_running_loop()
    _, esme = await loop.create_connection(lambda: Esme(n, window), "127.0.0.1", port)
    assert await esme.bound == 0
    start = time.perf_counter()
    esme.pump()
    end = await asyncio.wait_for(esme.done, 300)
    return {"seconds": end - start, "resps": esme.resps, "receipts": esme.receipts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--window", type=int, default=256)
    args = ap.parse_args()
    port, web_port = free_port(), free_port()
    env = dict(os.environ, ROPSMS_VAR_DIR=tempfile.mkdtemp(prefix="smsc-bench-"), ROPSMS_LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "ropsms.cli", "smsc-sim", "--port", str(port), "--web-port",
                             str(web_port), "--receipt-delay", "0", "--enquire-link", "0"],
                            env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/health", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the simulator did not start") from None
                time.sleep(0.2)
        ps = psutil.Process(proc.pid)
        cpu0 = ps.cpu_times()
        result = asyncio.run(drive(port, args.n, args.window))
        cpu1 = ps.cpu_times()
        sim_cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        sim_sys = cpu1.system - cpu0.system
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/stats", timeout=5) as r:
            stats = json.loads(r.read())
        secs = result["seconds"]
        print(f"{args.n} submit_sm, window {args.window}, instant receipts, simulator in its own process")
        print(f"  elapsed             {secs:.2f} s")
        print(f"  submit_sm/s         {result['resps'] / secs:,.0f}")
        print(f"  receipts/s          {result['receipts'] / secs:,.0f}")
        print(f"  simulator CPU       {sim_cpu:.2f} s ({sim_cpu / args.n * 1e6:.0f} us per message, submit+receipt;"
              f" {sim_sys / args.n * 1e6:.0f} us of it in the kernel)")
        print(f"  simulator RSS       {ps.memory_info().rss / 1e6:.0f} MB")
        print(f"  simulator counters  accepted={stats.get('submits_accepted')} receipts={stats.get('receipts_sent')}"
              f" acked={stats.get('receipts_acked')}")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
