"""The closed sets of strings the store holds, as enums. Each value is its stored string."""

from __future__ import annotations

import enum


class KeyKind(enum.StrEnum):
    """What a key belongs to; the value is the tag written inside the key."""

    PROJECT = "proj"
    SERVICE_ACCOUNT = "svc"
    ADMIN = "admin"


class PermissionMode(enum.StrEnum):
    ALL = "all"
    READ_ONLY = "read_only"
    RESTRICTED = "restricted"


class Role(enum.StrEnum):
    """A person's role in the organisation; ``services/members.py`` says what each may do."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    READER = "reader"


class OwnerType(enum.StrEnum):
    """Who owns a key: the actor that created it, or the service account it stands for."""

    USER = "user"
    SERVICE_ACCOUNT = "service_account"
    ADMIN_KEY = "admin_key"
    SYSTEM = "system"  # keys the server made itself: bootstrap, ``keyplane init``


class ProjectStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
