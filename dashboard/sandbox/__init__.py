"""A stand-in Talkdesk (Talkdesk ID + Case API) over real HTTP, for the demo and the tests.

Standard library only and independent of Django and of ``dashboard.talkdesk``: it implements
``talkdesk-api.md`` on its own, so the client and the sandbox cross-check each other. It is never
part of the production URL configuration.
"""

from __future__ import annotations

from dashboard.sandbox.app import KNOWN_SCOPES, RecordedRequest
from dashboard.sandbox.data import SandboxData, generate
from dashboard.sandbox.server import Sandbox, start

__all__ = ["KNOWN_SCOPES", "RecordedRequest", "Sandbox", "SandboxData", "generate", "start"]
