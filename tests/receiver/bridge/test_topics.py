from receiver.bridge.topics import conversation_topics, flow_topic, pack, wanted


def test_a_conversations_three_detail_topics_are_combined_into_one() -> None:
    assert conversation_topics("c-1") == [
        "v2.detail.events.conversation.c-1?flow.start&flow.end&flow.outcome"
    ]


def test_a_combined_topic_over_200_characters_is_split_again() -> None:
    topics = conversation_topics("c" * 180)
    assert [topic.rsplit(".", 1)[-1] for topic in topics] == ["start", "end", "outcome"]


def test_flows_come_first_and_repeats_are_dropped() -> None:
    topics = wanted(["f-1", "f-1", "f-2"], ["c-1"])
    assert topics[:2] == [flow_topic("f-1"), flow_topic("f-2")]
    assert len(topics) == 3


def test_topics_fill_channels_up_to_the_budget_and_the_rest_is_left_out() -> None:
    topics = [f"t{n}" for n in range(25)]
    packing = pack(topics, [], per_channel=10, max_channels=2)
    assert [len(slot) for slot in packing.slots] == [10, 10]
    assert packing.left_out == tuple(topics[20:])


def test_a_topic_stays_on_its_channel_and_freed_room_is_reused() -> None:
    first = pack(["a", "b", "c"], [], per_channel=2, max_channels=3)
    assert first.slots == (("a", "b"), ("c",))
    second = pack(["b", "c", "d"], first.slots, per_channel=2, max_channels=3)
    assert second.slots == (("b", "d"), ("c",))


def test_twelve_hundred_conversations_and_a_flow_need_two_channels_of_900() -> None:
    topics = wanted(["f-1"], [f"c-{n}" for n in range(1200)])
    packing = pack(topics, [], per_channel=900, max_channels=18)
    assert [len(slot) for slot in packing.slots] == [900, 301]
    assert packing.left_out == ()
