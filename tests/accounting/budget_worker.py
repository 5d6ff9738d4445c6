"""A separate process competing for one budget: `python -m tests.accounting.budget_worker
DB LIMIT ATTEMPTS AMOUNT GO_FILE [HOLD_S]` prints how many reservations it got. DB is a SQLite
file or a postgresql:// URL; HOLD_S is how long each granted request holds its reservation
before settling (as a request in flight would)."""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path

from devflow_tui.accounting.budget import BudgetManager
from devflow_tui.accounting.records import RequestOutcome, RequestStart
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.config import BudgetSettings
from devflow_tui.errors import BudgetExceededError


def main(argv: list[str]) -> int:
    db, limit, attempts, amount, go = (
        argv[0],
        Decimal(argv[1]),
        int(argv[2]),
        Decimal(argv[3]),
        Path(argv[4]),
    )
    hold_s = float(argv[5]) if len(argv) > 5 else 0.0
    url = db if db.startswith("postgresql://") else None
    store = AnalyticsStore(Path(db if url is None else "unused.db"), busy_timeout_s=30.0, url=url)
    budget = BudgetManager(store, BudgetSettings(limit_usd=limit))
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.001)  # start together with the other process
    granted = 0
    for _ in range(attempts):
        request_id = store.begin_request(RequestStart(model="m/a"))
        try:
            reservation = budget.reserve(request_id, amount)
        except BudgetExceededError:
            store.finish_request(
                request_id, RequestOutcome(request_id=request_id, status="refused")
            )
            continue
        granted += 1
        time.sleep(hold_s)
        budget.settle(reservation, amount)
        store.finish_request(
            request_id,
            RequestOutcome(
                request_id=request_id, model="m/a", cost_usd=amount, cost_source="reported"
            ),
        )
    store.close()
    print(granted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
