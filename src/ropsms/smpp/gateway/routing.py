"""Which binds may carry a message: ported numbers first, then destination prefixes.

Built from the database by the gateway (`Router.load()`), used without queries on the hot path.
The result is an ordered list of bind names: the first bind that is up takes the message, the
others are the failover.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RouteEntry:
    prefix: str
    priority: int
    operator: str


class Router:
    def __init__(self, *, routes: list[RouteEntry], binds_by_operator: dict[str, list[str]],
                 ported: dict[str, str]) -> None:
        # Longest prefix first, then priority.
        self.routes = sorted(routes, key=lambda r: (-len(r.prefix), r.priority, r.operator))
        self.binds_by_operator = binds_by_operator
        self.ported = ported
        self._cache: dict[str, tuple[str, ...]] = {}
        # Without a ported entry the answer depends only on the first `_key_len` digits.
        self._key_len = max((len(r.prefix) for r in self.routes), default=0)

    @classmethod
    def load(cls) -> Router:
        from ropsms.smpp.models import Bind, PortedNumber, Route

        routes = [RouteEntry(r.prefix, r.priority, r.operator.name)
                  for r in Route.objects.filter(enabled=True, operator__enabled=True).select_related("operator")]
        binds: dict[str, list[str]] = {}
        for b in Bind.objects.filter(enabled=True, operator__enabled=True).select_related("operator").order_by(
                "order", "name"):
            if b.can_transmit:
                binds.setdefault(b.operator.name, []).append(b.name)
        ported = dict(PortedNumber.objects.filter(operator__enabled=True).values_list("msisdn", "operator__name"))
        return cls(routes=routes, binds_by_operator=binds, ported=ported)

    def operators_for(self, msisdn: str) -> list[str]:
        digits = msisdn.lstrip("+")
        out: list[str] = []
        ported = self.ported.get(digits)
        if ported:
            out.append(ported)
        for route in self.routes:
            if digits.startswith(route.prefix) and route.operator not in out:
                out.append(route.operator)
        return out

    def binds_for(self, msisdn: str) -> tuple[str, ...]:
        """Bind names in the order to try them (cached by the prefix digits that decide it)."""
        digits = msisdn.lstrip("+")
        key = digits if digits in self.ported else digits[: self._key_len]
        found = self._cache.get(key)
        if found is None:
            found = tuple(b for op in self.operators_for(digits) for b in self.binds_by_operator.get(op, ()))
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = found
        return found
