"""The OpenAI-compatible gateway: check a keyplane key, forward upstream, meter the usage.

Modules: ``endpoints`` (what each path needs), ``access`` (key, scope, model and IP checks),
``network`` (client addresses, IP allow-lists), ``upstream`` (the pooled client, over
``pool`` and ``http1``), ``wire`` (ASGI plumbing), ``streams`` (SSE relay that reads usage),
``gateway`` (one call end to end), ``router`` (the ASGI middleware), ``assembly`` (built from
the runtime). Limits and budgets plug in at the seam in ``keyplane.limits.admission``.
"""
