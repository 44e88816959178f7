"""What the nginx gateway adds to a read: the same GET direct and through the gateway.

Starts a throwaway stack (embedded PostgreSQL and broker on free ports), the four services
and Debian's nginx in front of them, then times sequential GETs of one product's stock both
ways over keep-alive connections. Through the gateway each request is also checked at the
edge (auth_request to /auth/verify), so it costs two service calls. Prints the medians and
p95s and, last, ``ratio=<gateway median / direct median>``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import httpx

from services.tokens import issue_token
from stack.lifecycle import Stack
from tests.support.throwaway_stack import free_port, throwaway_stack


def timings_ms(client: httpx.Client, path: str, headers: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        status = client.get(path, headers=headers).status_code
        out.append((time.perf_counter() - t0) * 1000)
        assert status in (200, 404, 503), status  # a read API answer, not a gateway refusal
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    names = ("orders", "invoices", "stock", "read_api", "gateway")
    ports: dict[str, Any] = {f"{name}_port": free_port() for name in names}
    with throwaway_stack(**ports) as settings:
        stack = Stack(settings)
        where = stack.up(services=True, gateway=True)
        try:
            headers = {"Authorization": f"Bearer {issue_token(settings, 'bench')}"}
            path = "/products/sku-bench/stock"
            results = {}
            for name, url in (("direct", where["read_api"]), ("gateway", where["gateway"])):
                with httpx.Client(base_url=url, timeout=10) as client:
                    timings_ms(client, path, headers, 50)  # warm up connections and caches
                    results[name] = timings_ms(client, path, headers, args.requests)
        finally:
            stack.stop_started()
    for name, times in results.items():
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"{name}: median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms")
    print(
        f"ratio={statistics.median(results['gateway']) / statistics.median(results['direct']):.2f}"
    )


if __name__ == "__main__":
    main()
