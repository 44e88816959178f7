"""The write handlers' contract: one abstract test case, run against every backend.

Subclasses (in memory in tests/unit, PostgreSQL in tests/integration) implement ``Backend``:
how to open a unit of work of each service and how to read its outbox.
"""

from __future__ import annotations

from tests.handlers_contract.idempotency import IdempotencyContract
from tests.handlers_contract.invoices import InvoiceHandlersContract
from tests.handlers_contract.orders import OrderHandlersContract
from tests.handlers_contract.stock import StockHandlersContract


class HandlersContract(
    OrderHandlersContract, InvoiceHandlersContract, StockHandlersContract, IdempotencyContract
):
    """Every handler test; not collected itself (no ``Test`` prefix), only its subclasses."""
