"""The ``keyplane`` command line: server commands and an HTTP client of the admin API."""
