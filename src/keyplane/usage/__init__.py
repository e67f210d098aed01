"""Metering, prices and the usage and cost reports."""
