"""A paginator that never counts a huge list to the end: it counts at most ``cap`` rows (``COUNT(*)`` over a
``LIMIT``), so drawing page 1 of a million orders costs as much as page 1 of a thousand. Past the cap the list
says "10000+" (``capped``) and offers the first ``cap`` rows' pages."""
from django.core.paginator import Paginator
from django.utils.functional import cached_property


class BoundedPaginator(Paginator):
    cap = 10_000

    @cached_property
    def _bounded_count(self) -> int:
        object_list = self.object_list
        if hasattr(object_list, "order_by"):
            return object_list.order_by()[: self.cap + 1].count()
        return len(object_list[: self.cap + 1])

    @cached_property
    def count(self) -> int:
        return min(self._bounded_count, self.cap)

    @property
    def capped(self) -> bool:
        return self._bounded_count > self.cap
