"""``python -m keyplane``."""

from keyplane.entry import main

main()
