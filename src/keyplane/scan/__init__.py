"""Finding secrets in files and git history, and the ``doctor`` checklist.

It reads files and runs git; it talks to a keyplane server only through a ``Requester``
handed in by the caller (the CLI's ``AdminClient``).
"""

from keyplane.scan.finder import scan_paths
from keyplane.scan.finding import Finding
from keyplane.scan.history import history_findings, staged_findings
from keyplane.scan.patterns import Detector

__all__ = ["Detector", "Finding", "history_findings", "scan_paths", "staged_findings"]
