from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class Pages(PageNumberPagination):
    """100 rows a page; `page` must be a whole number from 1 (a page past the end is 404)."""

    page_size = 100

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 10**9):
            raise ValidationError({"page": ["Give a page number from 1."]})
        return super().paginate_queryset(queryset, request, view)
