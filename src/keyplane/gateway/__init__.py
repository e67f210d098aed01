"""The OpenAI-compatible gateway: check a keyplane key, forward upstream, meter the usage.

Modules: ``endpoints`` (what each path needs), ``access`` (key, scope, model and IP checks),
``admission`` (the seam where limits and budgets plug in), ``upstream`` (the pooled client),
``streams`` (SSE relay that reads usage), ``proxy`` (one call end to end), ``routes`` (ASGI).
"""
