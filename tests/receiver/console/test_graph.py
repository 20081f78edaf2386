from receiver.console.graph import (
    NODE_HEIGHT,
    NODE_WIDTH,
    GraphNode,
    edges_from_paths,
    layout,
    starts_of,
)


def nodes(*ids: str) -> list[GraphNode]:
    return [GraphNode(node_id, node_id.title(), 10, 0, None) for node_id in ids]


def test_a_linear_flow_is_one_node_per_layer_top_down() -> None:
    graph = layout(nodes("a", "b", "c"), [("a", "b", 5), ("b", "c", 5)])
    by_id = graph.by_id
    assert [by_id[n].layer for n in "abc"] == [0, 1, 2]
    assert by_id["a"].y < by_id["b"].y < by_id["c"].y
    assert by_id["a"].x == by_id["b"].x == by_id["c"].x
    assert graph.layers == 3
    assert all(not edge.back for edge in graph.edges)


def test_branches_share_a_layer_side_by_side_and_join_below() -> None:
    edges = [("a", "b", 7), ("a", "c", 3), ("b", "d", 7), ("c", "d", 3)]
    graph = layout(nodes("a", "b", "c", "d"), edges)
    b, c, d = graph.by_id["b"], graph.by_id["c"], graph.by_id["d"]
    assert b.layer == c.layer == 1 and d.layer == 2
    assert abs(b.x - c.x) >= NODE_WIDTH
    assert b.y == c.y
    assert graph.width >= 2 * NODE_WIDTH


def test_a_loop_is_a_back_edge_and_does_not_lift_its_target() -> None:
    edges = [("a", "b", 4), ("b", "c", 4), ("c", "b", 2), ("c", "c", 1)]
    graph = layout(nodes("a", "b", "c"), edges)
    assert [graph.by_id[n].layer for n in "abc"] == [0, 1, 2]
    back = {(edge.source, edge.target) for edge in graph.edges if edge.back}
    assert back == {("c", "b"), ("c", "c")}
    forward = next(edge for edge in graph.edges if (edge.source, edge.target) == ("a", "b"))
    start = graph.by_id["a"]
    assert forward.path.startswith(f"M{start.x + NODE_WIDTH / 2:.1f},{start.y + NODE_HEIGHT:.1f}")
    widest = max(edge.stroke for edge in graph.edges)
    assert forward.stroke == widest


def test_transitions_are_counted_along_paths() -> None:
    paths = [(("a", "b", "c"), 5), (("a", "c"), 2), (("a", "b", "b"), 1)]
    assert sorted(edges_from_paths(paths)) == [
        ("a", "b", 6),
        ("a", "c", 2),
        ("b", "b", 1),
        ("b", "c", 5),
    ]


def test_an_edge_to_a_node_without_counts_still_gets_a_node() -> None:
    graph = layout(nodes("a"), [("a", "gone", 3)])
    assert graph.by_id["gone"].entries == 0
    assert graph.by_id["gone"].layer == 1


def test_transitions_few_runs_took_do_not_reshape_the_layers() -> None:
    edges = [
        ("start", "work", 1000),
        ("work", "end", 990),
        ("end", "start", 3),
        ("start", "end", 2),
    ]
    graph = layout(nodes("start", "work", "end"), edges, starts={"start": 1000})
    assert [graph.by_id[n].layer for n in ("start", "work", "end")] == [0, 1, 2]
    minor = {(edge.source, edge.target) for edge in graph.edges if edge.minor}
    assert minor == {("end", "start"), ("start", "end")}
    skip = next(edge for edge in graph.edges if (edge.source, edge.target) == ("start", "end"))
    assert not skip.back and skip.label_x < graph.by_id["start"].x  # round the left side


def test_runs_start_where_the_paths_start_even_when_a_retry_enters_another_node_more() -> None:
    # A few runs went back to the start: every node has a way in, the retried one the most.
    edges = [
        ("prepare", "lookup", 100),
        ("lookup", "wait", 40),
        ("wait", "lookup", 40),
        ("lookup", "prepare", 5),
    ]
    graph = layout(
        [
            GraphNode("prepare", None, 100, 0, None),
            GraphNode("lookup", None, 140, 0, None),
            GraphNode("wait", None, 40, 0, None),
        ],
        edges,
        starts_of([(("prepare", "lookup"), 60), (("prepare", "lookup", "wait", "lookup"), 40)]),
    )
    assert [graph.by_id[n].layer for n in ("prepare", "lookup", "wait")] == [0, 1, 2]
    back = {(e.source, e.target) for e in graph.edges if e.back}
    assert back == {("wait", "lookup"), ("lookup", "prepare")}
