"""Rate limits, parallel-request limits and spend budgets, as atomic reservations.

A call asks each scope it belongs to (its key, its project) for a *demand*: one request,
an estimate of its tokens, its worst-case cost. A backend admits all demands at once or
none, and the call later *settles* to what it really used. Backends: in-process (one
instance) and Redis (several instances sharing counters).
"""
