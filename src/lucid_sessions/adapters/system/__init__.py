"""Adapters on the process itself: the system clock (`SystemClock`), session ids from
monotonic ULIDs (`UlidIdGenerator`) and leases held inside one process (`LocalLeases`, for
the embedded store)."""
