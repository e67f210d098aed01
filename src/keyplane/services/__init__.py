"""Domain services shared by every surface (admin API, dashboard, CLI server commands)."""
