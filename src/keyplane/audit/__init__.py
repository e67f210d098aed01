"""The audit log: every state change leaves an event."""
