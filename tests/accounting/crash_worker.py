"""A process that streams into the store until it is killed:
`python -m tests.accounting.crash_worker DB REQUEST_ID`."""

from __future__ import annotations

import sys
from pathlib import Path

from devflow_tui.accounting.records import RequestStart
from devflow_tui.accounting.store import AnalyticsStore


def main(argv: list[str]) -> int:
    store = AnalyticsStore(Path(argv[0]))
    request_id = store.begin_request(
        RequestStart(request_id=argv[1], model="m/a", task_type="coding", prompt_tokens=120)
    )
    tokens = 0
    text = ""
    while True:  # a stream that never ends: only SIGKILL stops it
        tokens += 1
        text += "tok "
        store.record_progress(request_id, completion_tokens=tokens, partial_text=text)
        if tokens % 50 == 0:
            # A rollup-writing transaction in flight as well, to be cut mid-way.
            with store.transaction() as conn:
                conn.execute("UPDATE requests SET updated = updated WHERE id = ?", (request_id,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
