"""A minimal fake TWS gateway: the baseline for bench_sim. It connects clients and
fills every order at once at a fixed price. Run: python -m bench._fake_gateway PORT"""

from __future__ import annotations

import asyncio
import struct
import sys
import time

from ats.sim import messages as M
from ats.sim.orders import OrderStatus, SimExecution, SimOrder
from ats.sim.protocol import FrameReader, frame, split_fields
from ats.sim.universe import Universe

ACCOUNT = "DU0000001"
SPY = Universe().by_symbol("SPY")


class Fake(asyncio.Protocol):
    perm = 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport  # type: ignore[assignment]
        self.reader = FrameReader()
        self.started = False
        self.client_id = 0
        self.n_exec = 0

    def send(self, *msgs: list[object]) -> None:
        self.t.write(b"".join(frame(m) for m in msgs))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if not self.started:
            data = data[4:]
            self.started = True
        for payload in self.reader.feed(data):
            f = split_fields(payload)
            if f[0].startswith("v"):
                self.send([176, time.strftime("%Y%m%d %H:%M:%S UTC")])
                continue
            self.handle(f)

    def handle(self, f: list[str]) -> None:
        mid = int(f[0])
        if mid == 71:
            self.client_id = int(f[2])
            self.send(M.next_valid_id(1), M.managed_accounts([ACCOUNT]))
        elif mid == 61:
            self.send(M.position_end())
        elif mid == 5:
            self.send(M.open_order_end())
        elif mid == 99:
            self.send(M.completed_orders_end())
        elif mid == 6:
            self.send(M.account_download_end(ACCOUNT))
        elif mid == 7:
            self.send(M.exec_details_end(int(f[2])))
        elif mid == 76:
            self.send(M.account_update_multi_end(int(f[2])))
        elif mid == 3:
            assert SPY is not None
            oid = int(f[1])
            qty = float(f[17])
            o = SimOrder(self.client_id, oid, Fake.perm, ACCOUNT, SPY.con_id, f[16], qty,
                         "MKT", None, None, "DAY")
            Fake.perm += 1
            self.send(M.open_order(o, SPY), M.order_status(o))
            o.filled, o.cum_value, o.status = qty, qty * 100.0, OrderStatus.FILLED
            self.n_exec += 1
            e = SimExecution(f"{o.perm_id}.{self.n_exec}", o.perm_id, oid, self.client_id,
                             ACCOUNT, SPY.con_id, "BOT", qty, 100.0, time.time(), qty, 100.0,
                             "", 0.35, 0.0, "USD", "ARCA")
            self.send(M.open_order(o, SPY), M.order_status(o), M.exec_details(-1, e, SPY),
                      M.commission_report(e))


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Fake, "127.0.0.1", port)
    print(f"fake gateway listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}",
          flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    _ = struct
    asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
