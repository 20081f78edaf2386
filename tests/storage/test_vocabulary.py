"""The stored words are defined once, fit their columns, and stay importable where they were."""

from storage import launches, visits, vocabulary
from storage.tables import Event, Launch


def test_every_word_fits_its_column() -> None:
    events, launches_table = Event.__table__, Launch.__table__  # type: ignore[attr-defined]
    assert max(map(len, vocabulary.KINDS)) <= events.c.kind.type.length
    assert max(map(len, vocabulary.SOURCES)) <= events.c.source.type.length
    assert max(map(len, vocabulary.STATES)) <= launches_table.c.state.type.length


def test_the_states_split_into_ends_and_the_rest() -> None:
    assert vocabulary.TERMINAL_STATES.issubset(vocabulary.STATES)
    assert vocabulary.UNFINISHED_STATES == ("pending", "running", "termination_failed")
    assert set(vocabulary.NODE_KINDS) < set(vocabulary.KINDS)
    assert vocabulary.FAMILIES == (vocabulary.DATA_ACTION, vocabulary.PLATFORM)


def test_the_old_homes_hand_out_the_same_objects() -> None:
    assert launches.STATES is vocabulary.STATES
    assert launches.TERMINAL_STATES is vocabulary.TERMINAL_STATES
    assert launches.OWN_SOURCE == vocabulary.FLOWTRACK == "flowtrack"
    assert (visits.DATA_ACTION, visits.PLATFORM) == ("data_action", "platform")
    assert visits.CHECKPOINT_TYPES is vocabulary.CHECKPOINT_TYPES
