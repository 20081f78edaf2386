"""Bringing flowtrack's three Genesys resources in line with its settings, once.

:class:`Registrar` finds the integration, its credential and the action by name, creates
what is missing and updates in place what differs (the desired state:
:mod:`receiver.registration.spec`), and reports what it did. It assumes it runs alone:
:func:`receiver.registration.register.register` holds the database lock around it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from receiver.errors import Unavailable
from receiver.genesys import (
    WEB_SERVICES_INTEGRATION_TYPE,
    DataAction,
    GenesysClient,
    GenesysError,
    GenesysNotFound,
    GenesysOutcomeUnknown,
    Integration,
    IntegrationConfig,
)
from receiver.registration import spec

Outcome = Literal["created", "updated", "unchanged"]


class RegistrationError(Unavailable):
    """Registration could not run or did not complete."""

    code = "registration_failed"


class RegistrationFailed(RegistrationError):
    """Genesys refused or failed one step; carries its status, code and correlation id."""

    def __init__(self, doing: str, cause: GenesysError) -> None:
        message = f"registration failed while {doing}: {cause.message}"
        if cause.correlation_id:
            message += f" (correlation id {cause.correlation_id})"
        super().__init__(message, detail=cause.detail)
        self.http_status = cause.http_status
        self.genesys_code = cause.genesys_code
        self.correlation_id = cause.correlation_id


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """What registration did to one Genesys resource; ``fields`` names what it updated."""

    kind: Literal["integration", "credential", "action"]
    name: str
    id: str
    outcome: Outcome
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        line = f"{self.kind:<11} {self.outcome:<9} {self.name} (id {self.id})"
        return f"{line}: {', '.join(self.fields)}" if self.fields else line


@dataclass(frozen=True, slots=True)
class RegistrationReport:
    """The outcome of one registration, per resource, plus what it left undone."""

    callback_url: str
    integration: ResourceChange
    credential: ResourceChange
    action: ResourceChange
    warnings: tuple[str, ...] = ()

    @property
    def resources(self) -> tuple[ResourceChange, ...]:
        return (self.integration, self.credential, self.action)

    def lines(self) -> list[str]:
        """Human-readable: one line per resource, the callback URL, then any warnings."""
        lines = [change.describe() for change in self.resources]
        lines.append(f"callback    POST {self.callback_url}")
        return lines + [f"warning: {warning}" for warning in self.warnings]


class Registrar:
    """One registration run against ``client``; :meth:`run` may be called once."""

    def __init__(self, client: GenesysClient, callback_url: str, token: str) -> None:
        self.client = client
        self.callback_url = callback_url
        self.token = token
        self.warnings: list[str] = []

    async def run(self) -> RegistrationReport:
        """Reconcile the integration, then its credential and config, then the action.

        Raises :class:`RegistrationFailed` naming the step Genesys failed.
        """
        integration, created = await self._integration()
        with _step("reading the integration's configuration"):
            config = await self.client.integrations.get_config(integration.id)
        credential, fingerprint = await self._credential(config)
        integration_change = await self._configure(
            integration, config, credential.id, fingerprint, created=created
        )
        action = await self._action(integration.id)
        return RegistrationReport(
            self.callback_url, integration_change, credential, action, tuple(self.warnings)
        )

    async def _integration(self) -> tuple[Integration, bool]:
        with _step("looking up the integration"):
            found = await self._find_integration()
        if found is not None:
            return found, False
        with _step("creating the integration"):
            try:
                created = await self.client.integrations.create(
                    WEB_SERVICES_INTEGRATION_TYPE, name=spec.INTEGRATION_NAME
                )
            except GenesysOutcomeUnknown:
                # It may exist now: look again rather than risk a second one.
                found = await self._find_integration()
                if found is None:
                    raise
                created = found
        return created, True

    async def _find_integration(self) -> Integration | None:
        matches: list[Integration] = []
        page_number = 1
        while True:
            page = await self.client.integrations.list(
                integration_type=WEB_SERVICES_INTEGRATION_TYPE, page_number=page_number
            )
            matches += [
                found
                for found in page.entities
                if found.name == spec.INTEGRATION_NAME and found.intended_state != "DELETED"
            ]
            if not page.has_next:
                break
            page_number += 1
        if len(matches) > 1:
            self.warnings.append(
                f"{len(matches)} integrations are named {spec.INTEGRATION_NAME!r}; kept "
                f"{matches[0].id} up to date and left the others alone"
            )
        return matches[0] if matches else None

    async def _credential(self, config: IntegrationConfig) -> tuple[ResourceChange, str]:
        """The credential's change, and the token fingerprint the notes are to hold."""
        fields = {spec.TOKEN_FIELD: self.token}
        current = config.credentials.get(spec.CREDENTIAL_SLOT)
        if current is not None:
            fingerprint = spec.proven_fingerprint(config.notes, current.id, self.token)
            changed = [] if fingerprint else ["token"]
            if current.name not in (None, spec.CREDENTIAL_NAME):
                changed.append("name")
            if current.type_name not in (None, spec.CREDENTIAL_TYPE):
                changed.append("type")
            if fingerprint and not changed:
                return _credential_change(current.id, "unchanged"), fingerprint
            with _step("updating the credential"):
                try:
                    await self.client.integrations.update_credential(
                        current.id, spec.CREDENTIAL_NAME, spec.CREDENTIAL_TYPE, fields
                    )
                except GenesysNotFound:
                    current = None  # the slot names a deleted credential: make a new one
            if current is not None:
                fingerprint = fingerprint or spec.token_fingerprint(current.id, self.token)
                return _credential_change(current.id, "updated", changed), fingerprint
        with _step("creating the credential"):
            info = await self.client.integrations.create_credential(
                spec.CREDENTIAL_NAME, spec.CREDENTIAL_TYPE, fields
            )
        return _credential_change(info.id, "created"), spec.token_fingerprint(info.id, self.token)

    async def _configure(
        self,
        integration: Integration,
        config: IntegrationConfig,
        credential_id: str,
        fingerprint: str,
        *,
        created: bool,
    ) -> ResourceChange:
        notes = spec.integration_notes(fingerprint)
        slots = {slot: info.id for slot, info in config.credentials.items()}
        changed = []
        if slots.get(spec.CREDENTIAL_SLOT) != credential_id:
            changed.append("credential")
        if (config.notes or "") != notes:
            kept_text = (config.notes or "").startswith(spec.NOTES)
            changed.append("token fingerprint" if kept_text else "notes")
        if changed:
            if config.version is None:
                raise RegistrationError("Genesys sent the integration config without a version")
            with _step("configuring the integration"):
                await self.client.integrations.update_config(
                    integration.id,
                    name=spec.INTEGRATION_NAME,
                    version=config.version,
                    properties=config.properties,
                    advanced=config.advanced,
                    notes=notes,
                    credentials={**slots, spec.CREDENTIAL_SLOT: credential_id},
                )
        if integration.intended_state != "ENABLED":
            # Flows only call actions of an enabled integration; a new one starts disabled.
            changed.append("intendedState")
            with _step("enabling the integration"):
                await self.client.integrations.update(integration.id, intended_state="ENABLED")
        outcome: Outcome = "created" if created else "updated" if changed else "unchanged"
        fields = () if created else tuple(changed)
        return ResourceChange("integration", spec.INTEGRATION_NAME, integration.id, outcome, fields)

    async def _action(self, integration_id: str) -> ResourceChange:
        config = spec.action_config(self.callback_url)
        with _step("looking up the action"):
            found = await self._find_action(integration_id)
        if found is None:
            with _step("creating the action"):
                try:
                    found = await self.client.actions.create(
                        name=spec.ACTION_NAME,
                        integration_id=integration_id,
                        contract=spec.ACTION_CONTRACT,
                        config=config,
                        category=spec.ACTION_CATEGORY,
                    )
                except GenesysOutcomeUnknown:
                    found = await self._find_action(integration_id)
                    if found is None:
                        raise
            return ResourceChange("action", spec.ACTION_NAME, found.id, "created")
        with _step("reading the action"):
            action = await self.client.actions.get(found.id)
        drift = spec.contract_drift(action.contract, spec.ACTION_CONTRACT)
        if drift:
            # Never replaced automatically: a new action has a new id, and every flow
            # calling the old one would break until republished.
            self.warnings.append(
                f"the action's contract differs from this flowtrack's ({', '.join(drift)}) and "
                "was left as it is: Genesys cannot change a published action's contract "
                "(PATCH takes none). To apply it, delete the action in Genesys, run "
                "`flowtrack register` again, and re-select the action in each Call Data "
                "Action step."
            )
        changed = spec.config_changes(action.config, config)
        if action.category != spec.ACTION_CATEGORY:
            changed.append("category")
        if not changed:
            return ResourceChange("action", spec.ACTION_NAME, action.id, "unchanged")
        if action.version is None:
            raise RegistrationError("Genesys sent the action without a version")
        with _step("updating the action"):
            await self.client.actions.update(
                action.id, version=action.version, config=config, category=spec.ACTION_CATEGORY
            )
        return ResourceChange("action", spec.ACTION_NAME, action.id, "updated", tuple(changed))

    async def _find_action(self, integration_id: str) -> DataAction | None:
        page_number = 1
        while True:
            page = await self.client.actions.list(name=spec.ACTION_NAME, page_number=page_number)
            for action in page.entities:
                # Genesys matches the name partially: compare exactly here.
                if action.name == spec.ACTION_NAME and action.integration_id == integration_id:
                    return action
            if not page.has_next:
                return None
            page_number += 1


def _credential_change(
    credential_id: str, outcome: Outcome, fields: list[str] | None = None
) -> ResourceChange:
    return ResourceChange(
        "credential", spec.CREDENTIAL_NAME, credential_id, outcome, tuple(fields or ())
    )


@contextmanager
def _step(doing: str) -> Iterator[None]:
    try:
        yield
    except GenesysError as exc:
        raise RegistrationFailed(doing, exc) from exc
