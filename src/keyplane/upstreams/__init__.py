"""The upstream providers keyplane forwards to, and which one serves a model.

Modules: ``spec`` (one upstream as configured: provider, base URL, key, model patterns),
``file`` (the TOML file of ``KEYPLANE_UPSTREAMS_FILE``, or the one upstream of the
``KEYPLANE_UPSTREAM_*`` settings), ``routing`` (the first upstream whose patterns match a
model), ``probe`` (the request ``keyplane upstreams check`` sends to each). No HTTP server
code here: the gateway and the CLI both build on it.
"""
