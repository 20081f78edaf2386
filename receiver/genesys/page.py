"""One page of a Genesys entity listing (``…EntityListing`` / ``…CursorListing``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx

from receiver.genesys import wire
from receiver.genesys.wire import JSONObject

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Entities plus the paging fields Genesys sent (numbered or cursor based)."""

    entities: tuple[T, ...]
    page_number: int | None = None
    page_count: int | None = None
    total: int | None = None
    next_uri: str | None = None

    @classmethod
    def from_wire(cls, data: JSONObject, item: Callable[[JSONObject], T]) -> Page[T]:
        """Build a page; entities ``item`` cannot read (no ``id``) are left out."""
        entities = []
        for entry in wire.mappings(data, "entities"):
            try:
                entities.append(item(entry))
            except ValueError:
                continue
        return cls(
            entities=tuple(entities),
            page_number=wire.integer(data, "pageNumber"),
            page_count=wire.integer(data, "pageCount"),
            total=wire.integer(data, "total"),
            next_uri=wire.text(data, "nextUri") or None,
        )

    @property
    def has_next(self) -> bool:
        if self.page_number is not None and self.page_count is not None:
            return self.page_number < self.page_count
        return self.next_uri is not None

    @property
    def next_cursor(self) -> str | None:
        """The ``after`` cursor of a cursor listing's ``nextUri``."""
        if self.next_uri is None:
            return None
        cursor = httpx.URL(self.next_uri).params.get("after")
        return cursor if isinstance(cursor, str) else None
