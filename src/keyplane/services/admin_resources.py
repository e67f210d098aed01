"""The services behind OpenAI's admin resources that keyplane maps onto its own model."""

from __future__ import annotations

from dataclasses import dataclass

from keyplane.audit.openai import AuditViews
from keyplane.clock import Clock
from keyplane.services.model_access import ModelAccessService
from keyplane.services.service_accounts import ServiceAccountService
from keyplane.services.spend import SpendService
from keyplane.store.database import Database


@dataclass(frozen=True, slots=True)
class AdminResources:
    service_accounts: ServiceAccountService
    model_access: ModelAccessService
    spend: SpendService
    # Audit events in OpenAI's shape, for the admin API and the dashboard alike.
    audit_views: AuditViews

    @classmethod
    def build(cls, database: Database, *, brand: str, clock: Clock) -> AdminResources:
        return cls(
            service_accounts=ServiceAccountService(database, brand=brand, clock=clock),
            model_access=ModelAccessService(database, clock=clock),
            spend=SpendService(database, clock=clock),
            audit_views=AuditViews(database),
        )
