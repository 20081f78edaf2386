"""What the callback endpoint answers once the events are committed."""

from __future__ import annotations

from pydantic import Field

from receiver.web.models import WireModel, one_of


class CallbackAnswer(WireModel):
    """The callback's 200 body; a registered data action's output (its success schema)."""

    accepted: int = Field(description="Events stored now.", ge=0)
    duplicates: int = Field(description="Events stored before (or twice in the body).", ge=0)
    command: str = one_of(
        ("continue", "stop"),
        "`stop` once flowtrack has timed out or terminated the launch: the flow should end itself.",
    )
