"""The access map as a standalone SVG document (the dashboard draws the same one inline)."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse

from . import selectors


@permission_required("grants.view_grant", raise_exception=True)
def access_map_svg(request: HttpRequest) -> HttpResponse:
    """GET /map.svg: image/svg+xml; its arrows and accounts link to the grant list."""
    body = selectors.access_map_data().svg
    return HttpResponse(
        '<?xml version="1.0" encoding="utf-8"?>\n' + body,
        content_type="image/svg+xml; charset=utf-8",
    )
