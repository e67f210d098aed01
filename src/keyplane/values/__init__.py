"""Pure values the store persists and every layer reads: kinds, roles, statuses, limits.

Standard library only, so the store can type its columns with them while staying below
the domain, and the SDK can use them without pulling in the server.
"""
