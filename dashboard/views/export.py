"""/cases/export.csv: being built (issue 7)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def export_csv(request: HttpRequest) -> HttpResponse:
    raise Http404("Export is not available yet.")
