"""The data flow of a saved ``nn.gModule`` (torch/nngraph), rebuilt from its nodes.

What a saved gModule holds (nngraph ``gmodule.lua``, ``node.lua``; torch/graph ``init.lua``):
``forwardnodes``, the nodes of the forward graph ``fg`` in a topological order (its
``modules`` follow that order, which is NOT the order in which the model file created them);
each node's ``data`` table, shared by the forward and backward copies of the node, with the
``module`` (absent on the dummy input and output nodes) and ``mapindex``, the producers of
its inputs in argument order (``mapindex[i]`` is the i-th producer's ``data``);
``innode``/``outnode``, the dummy nodes whose data is the network's input and the ordered
list of its outputs. ``fg.edges`` (``from`` producer, ``to`` consumer) must agree with the
``mapindex`` lists; this is checked.
"""

import dataclasses

from data_prep.torch7.t7file import Table, Torch7Error, TorchObject


@dataclasses.dataclass(eq=False)
class FlowNode:
    """One node of the graph: its module (None for a dummy node) and its ordered inputs."""

    index: int  # position in forwardnodes, 1-based as in Lua
    module: TorchObject | None
    label: str  # nngraph's "[file]:line" debug label of where the model file created it
    inputs: list = dataclasses.field(default_factory=list)
    consumers: list = dataclasses.field(default_factory=list)  # (FlowNode, 1-based slot)

    def describe(self) -> str:
        kind = self.module.typename if self.module is not None else "dummy node"
        return f"node {self.index} ({kind}, created at {self.label or '?'})"

    @property
    def kind(self) -> str:
        return self.module.short_name if self.module is not None else ""


@dataclasses.dataclass
class Flow:
    """The network as producer -> consumer links between :class:`FlowNode`."""

    nodes: list
    input: FlowNode  # the dummy input node
    outputs: list  # the network's outputs, in order


def _require(obj, typename: str, what: str, name: str):
    if not isinstance(obj, TorchObject) or obj.typename != typename:
        got = obj.typename if isinstance(obj, TorchObject) else type(obj).__name__
        raise Torch7Error(f"{name}: {what} is a {got}, expected {typename}")
    return obj


def data_flow(gmodule: TorchObject, name: str) -> Flow:
    """The :class:`Flow` of a saved ``nn.gModule``.

    Args:
      gmodule: the loaded gModule.
      name: the file's name, for errors.

    Raises:
      Torch7Error: the graph is malformed (names the node).
    """
    _require(gmodule, "nn.gModule", "the saved object", name)
    forward = gmodule.get("forwardnodes")
    if not isinstance(forward, Table) or not forward.array():
        raise Torch7Error(f"{name}: the gModule has no forwardnodes")
    by_data, nodes = {}, []
    for i, node in enumerate(forward.array(), 1):
        _require(node, "nngraph.Node", f"forwardnodes[{i}]", name)
        data = node.get("data")
        if not isinstance(data, Table):
            raise Torch7Error(f"{name}: forwardnodes[{i}] has no data table")
        module = data.get("module")
        if module is not None and not isinstance(module, TorchObject):
            raise Torch7Error(f"{name}: forwardnodes[{i}].data.module is not a Torch module")
        annotations = data.get("annotations")
        label = annotations.get("_debugLabel", "") if isinstance(annotations, Table) else ""
        flow_node = FlowNode(i, module, label)
        by_data[data] = flow_node
        nodes.append(flow_node)
    for node, raw in zip(nodes, forward.array()):
        mapindex = raw["data"].get("mapindex")
        producers = mapindex.array() if isinstance(mapindex, Table) else []
        for slot, producer in enumerate(producers, 1):
            if producer not in by_data:
                raise Torch7Error(
                    f"{name}: input {slot} of {node.describe()} is not a node of the forward graph"
                )
            source = by_data[producer]
            if source.index >= node.index:
                raise Torch7Error(
                    f"{name}: {node.describe()} reads {source.describe()}, which "
                    "comes later in forwardnodes (not a topological order)"
                )
            node.inputs.append(source)
            source.consumers.append((node, slot))
    _check_edges(gmodule, by_data, name)
    innode = _require(gmodule.get("innode"), "nngraph.Node", "innode", name)
    outnode = _require(gmodule.get("outnode"), "nngraph.Node", "outnode", name)
    if innode["data"] not in by_data or outnode["data"] not in by_data:
        raise Torch7Error(f"{name}: innode/outnode are not nodes of the forward graph")
    first, last = by_data[innode["data"]], by_data[outnode["data"]]
    if first.module is not None or last.module is not None or not last.inputs:
        raise Torch7Error(f"{name}: innode/outnode are not nngraph's dummy nodes")
    return Flow(nodes, first, list(last.inputs))


def _check_edges(gmodule: TorchObject, by_data: dict, name: str) -> None:
    """The forward graph's edges must be exactly the producer -> consumer links of mapindex."""
    fg = gmodule.get("fg")
    if not isinstance(fg, TorchObject) or not isinstance(fg.get("edges"), Table):
        return  # mapindex alone defines the flow; fg is a cache of it
    edges = set()
    for edge in fg["edges"].array():
        _require(edge, "graph.Edge", "an edge of fg", name)
        source, target = edge.get("from"), edge.get("to")
        if not all(
            isinstance(n, TorchObject) and n.get("data") in by_data for n in (source, target)
        ):
            raise Torch7Error(f"{name}: an edge of fg joins nodes outside forwardnodes")
        edges.add((by_data[source["data"]].index, by_data[target["data"]].index))
    links = {(p.index, n.index) for n in by_data.values() for p in n.inputs}
    if edges != links:
        odd = sorted(edges ^ links)[:3]
        raise Torch7Error(
            f"{name}: fg's edges and the nodes' mapindex disagree (node index pairs {odd})"
        )
