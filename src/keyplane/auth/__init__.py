"""Who is calling: a key or a session becomes a principal with an actor for the audit log."""
