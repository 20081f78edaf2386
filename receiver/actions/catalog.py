"""The org's data actions as flowtrack reads them: the list, briefly cached, and each
action's contract, cached per action and version.

Genesys keeps contracts with the action (``GET …/{actionId}?expand=contract``); reading
it for every run would double the Platform API calls. A contract is reused for
``contract_ttl_seconds`` and forgotten at once when Genesys says an input does not
match it (the action was republished with another contract).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from receiver.actions.errors import ActionNotFound, ActionsUnavailable, GenesysFailed
from receiver.genesys import DataAction, GenesysClient, GenesysError, GenesysNotFound

#: How many pages of actions one list reads at most (100 each).
MAX_PAGES = 20


@dataclass(frozen=True)
class _Kept:
    action: DataAction
    until: float


class ActionCatalog:
    """Reads actions through the Genesys client and keeps them for a while."""

    def __init__(
        self,
        genesys: GenesysClient | None,
        *,
        contract_ttl_seconds: float,
        list_ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._genesys = genesys
        self._contract_ttl = contract_ttl_seconds
        self._list_ttl = list_ttl_seconds
        self._clock = clock
        self._contracts: dict[str, _Kept] = {}
        self._lists: dict[tuple[str | None, str | None], tuple[list[DataAction], float]] = {}

    @property
    def genesys(self) -> GenesysClient:
        if self._genesys is None:
            raise ActionsUnavailable(
                "data actions need FLOWTRACK_GENESYS_CLIENT_ID and FLOWTRACK_GENESYS_CLIENT_SECRET"
            )
        return self._genesys

    async def action(self, action_id: str) -> DataAction:
        """The action with its contract and config (ActionNotFound when Genesys has none)."""
        kept = self._contracts.get(action_id)
        if kept is not None and kept.until > self._clock():
            return kept.action
        try:
            action = await self.genesys.actions.get_with_contract(action_id)
        except GenesysNotFound as exc:
            self._contracts.pop(action_id, None)
            raise ActionNotFound(f"Genesys has no data action {action_id!r}") from exc
        except GenesysError as exc:
            raise GenesysFailed(exc.message, detail=exc.detail) from exc
        self._contracts[action_id] = _Kept(action, self._clock() + self._contract_ttl)
        return action

    def forget(self, action_id: str) -> None:
        """Read this action's contract again next time."""
        self._contracts.pop(action_id, None)

    async def actions(self, *, name: str | None, category: str | None) -> list[DataAction]:
        """The org's actions (with their config) matching ``name`` (partly) and ``category``."""
        key = (name, category)
        kept = self._lists.get(key)
        if kept is not None and kept[1] > self._clock():
            return kept[0]
        found: list[DataAction] = []
        for number in range(1, MAX_PAGES + 1):
            try:
                page = await self.genesys.actions.list(
                    name=name, category=category, include_config=True, page_number=number
                )
            except GenesysError as exc:
                raise GenesysFailed(exc.message, detail=exc.detail) from exc
            found.extend(page.entities)
            if not page.entities or (page.page_count is not None and number >= page.page_count):
                break
        self._lists[key] = (found, self._clock() + self._list_ttl)
        return found
