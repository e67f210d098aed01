"""keyplane's Python SDK: the admin API client, and key verification for your own API.

Needs only ``httpx`` and ``pydantic``; nothing of the server is imported. The FastAPI glue
lives in ``keyplane.sdk.fastapi`` and is imported only by those who use it.
"""

from keyplane.sdk.asgi import KeyplaneMiddleware
from keyplane.sdk.client import AsyncClient, Client
from keyplane.sdk.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    InternalServerError,
    InvalidResponseError,
    KeyplaneSDKError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from keyplane.sdk.models import (
    AdminKey,
    ApiKey,
    AuditEvent,
    CreatedAdminKey,
    CreatedKey,
    Deleted,
    Page,
    Permissions,
    Project,
)
from keyplane.sdk.reports import Bucket, CompletionsUsage, Cost, EmbeddingsUsage, ReportPage
from keyplane.sdk.verdict import VerifiedKey, VerifyCode, VerifyResult
from keyplane.sdk.verifier import AsyncVerifier, Verifier

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AdminKey",
    "ApiKey",
    "AsyncClient",
    "AsyncVerifier",
    "AuditEvent",
    "AuthenticationError",
    "BadRequestError",
    "Bucket",
    "Client",
    "CompletionsUsage",
    "ConfigurationError",
    "ConflictError",
    "Cost",
    "CreatedAdminKey",
    "CreatedKey",
    "Deleted",
    "EmbeddingsUsage",
    "InternalServerError",
    "InvalidResponseError",
    "KeyplaneMiddleware",
    "KeyplaneSDKError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "Permissions",
    "Project",
    "RateLimitError",
    "ReportPage",
    "UnprocessableEntityError",
    "VerifiedKey",
    "Verifier",
    "VerifyCode",
    "VerifyResult",
]
