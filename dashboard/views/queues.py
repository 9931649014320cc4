"""/queues/: being built (issue 6)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def queue_overview(request: HttpRequest) -> HttpResponse:
    raise Http404("The queue overview is not available yet.")
