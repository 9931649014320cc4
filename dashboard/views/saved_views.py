"""/views/: being built (issue 6)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def view_list(request: HttpRequest) -> HttpResponse:
    raise Http404("Saved views are not available yet.")


def sidebar(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")


def view_open(request: HttpRequest, slug: str) -> HttpResponse:
    raise Http404("Saved views are not available yet.")
