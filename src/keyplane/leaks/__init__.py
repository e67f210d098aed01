"""Leak reports: GitHub's secret scanning partner protocol, and revoking what it reports."""
