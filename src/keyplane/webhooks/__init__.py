"""Signed webhooks: what keyplane POSTs to an organisation's URL when something happens.

Only the signing helpers are imported here, so a receiver can verify keyplane's webhooks with
``from keyplane.webhooks import verify_signature`` from the base (SDK) install.
"""

from keyplane.webhooks.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    sign,
    verify_signature,
)

__all__ = ["EVENT_ID_HEADER", "SIGNATURE_HEADER", "sign", "verify_signature"]
