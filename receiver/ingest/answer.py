"""What the callback endpoint answers once the events are committed."""

from __future__ import annotations

import orjson
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

    @staticmethod
    def encode(accepted: int, duplicates: int, command: str) -> bytes:
        """The answer as JSON, written straight from its fields' wire names.

        Every callback gets one: a model instance and its dump would cost more CPU than
        the rest of the answer, so the hot path zips the declared names instead.
        """
        return orjson.dumps(dict(zip(_WIRE_NAMES, (accepted, duplicates, command), strict=True)))


#: The answer's wire names in declaration order (what :meth:`CallbackAnswer.encode` writes).
_WIRE_NAMES = tuple(info.alias or name for name, info in CallbackAnswer.model_fields.items())
