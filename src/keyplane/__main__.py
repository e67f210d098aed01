"""``python -m keyplane``."""

from keyplane.cli.main import main

main()
