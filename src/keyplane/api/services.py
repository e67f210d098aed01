"""The services an app holds on ``app.state``, built in its lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from keyplane.auth.last_used import LastUsedTracker
from keyplane.config import Settings
from keyplane.services.admin_keys import AdminKeyService
from keyplane.services.api_keys import KeyService
from keyplane.services.clock import Clock, system_clock
from keyplane.services.projects import ProjectService
from keyplane.services.rotation import RotationService
from keyplane.services.server_secret import load_server_secret
from keyplane.services.verification import VerifyService
from keyplane.store.database import Database


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock
    projects: ProjectService
    keys: KeyService
    rotation: RotationService
    admin_keys: AdminKeyService
    verify: VerifyService
    last_used: LastUsedTracker

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock = system_clock) -> Services:
        database = Database(settings.resolved_database_url)
        brand = settings.key_brand
        return cls(
            settings=settings,
            database=database,
            clock=clock,
            projects=ProjectService(database, clock=clock),
            keys=KeyService(database, brand=brand, clock=clock),
            rotation=RotationService(
                database,
                brand=brand,
                server_secret=load_server_secret(settings),
                idempotency_ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
                clock=clock,
            ),
            admin_keys=AdminKeyService(database, brand=brand, clock=clock),
            verify=VerifyService(database, brand=brand, clock=clock),
            last_used=LastUsedTracker(database),
        )
