"""Writes what Lua Torch's ``torch.save`` writes for an hg-stacked-N.lua network (tests only).

An independent transcription, for tests of :mod:`data_prep.torch7`:

* the serializer follows torch7 ``File.lua`` ``writeObject`` (type tags, reference indices
  for tables and Torch objects, ``"V n"`` versions, tensors as sizes + strides + 1-based
  offset + storage) and ``Module:write`` (each module's fields as a fresh table);
* the graph is built like nngraph: ``Node`` data tables with ``mapindex`` (both directions)
  and ``reverseMap``, the backward graph from the output node (children = inputs), the
  forward graph as NEW nodes sharing the data (children = consumers), ``forwardnodes`` in a
  random topological order (so the modules' order is not the creation order), ``modules`` in
  that order, the dummy ``innode``/``outnode``;
* the modules are those the authors' file holds: ``cudnn.SpatialConvolution``,
  ``nn.SpatialBatchNormalization`` (version 2, or version 1 with ``running_std``),
  ``cudnn.ReLU``, ``cudnn.SpatialMaxPooling``, ``nn.SpatialUpSamplingNearest``, ``nn.JoinTable``,
  ``nn.CAddTable``, ``nn.Sequential``, ``nn.ConcatTable``, ``nn.Identity``, their weights
  ``torch.CudaTensor`` views into ONE flat ``torch.CudaStorage`` (the layout after
  ``getParameters()``), their gradients into another.

:func:`tests.torch7_reference.forward` runs the network in numpy from the writer's own
records (not from the file): the reference the importer's model must reproduce.
"""

import dataclasses
import struct

import numpy as np

from data_prep.torch7.t7file import Table, TorchObject


@dataclasses.dataclass(eq=False)
class Tensor:
    storage: "Storage"
    offset: int  # 0-based
    size: tuple
    stride: tuple
    typename: str = "torch.CudaTensor"


@dataclasses.dataclass(eq=False)
class Storage:
    data: np.ndarray
    typename: str = "torch.CudaStorage"


class Serializer:
    """torch7's binary writer (little-endian, 8-byte longs)."""

    def __init__(self):
        self.out, self.index, self.keep = bytearray(), {}, []

    def int(self, v):
        self.out += struct.pack("<i", v)

    def long(self, v):
        self.out += struct.pack("<q", v)

    def string(self, s):
        raw = s.encode("latin-1")
        self.int(len(raw))
        self.out += raw

    def referenced(self, obj) -> bool:
        if id(obj) in self.index:
            self.int(self.index[id(obj)])
            return True
        self.keep.append(obj)
        self.index[id(obj)] = len(self.index) + 1
        self.int(self.index[id(obj)])
        return False

    def torch_header(self, version, typename):
        self.string(f"V {version}")
        self.string(typename)

    def value(self, v):
        if v is None:
            self.int(0)
        elif isinstance(v, bool):
            self.int(5)
            self.int(1 if v else 0)
        elif isinstance(v, (int, float)):
            self.int(1)
            self.out += struct.pack("<d", float(v))
        elif isinstance(v, str):
            self.int(2)
            self.string(v)
        elif isinstance(v, Table):
            self.int(3)
            if not self.referenced(v):
                self.int(len(v))
                for key, item in v.items():
                    self.value(key)
                    self.value(item)
        elif isinstance(v, TorchObject):
            self.int(4)
            if not self.referenced(v):
                self.torch_header(v.version, v.typename)
                self.value(Table(v.fields))  # Module:write: a fresh table of the fields
        elif isinstance(v, Tensor):
            self.int(4)
            if not self.referenced(v):
                self.torch_header(1, v.typename)
                self.int(len(v.size))
                for n in (*v.size, *v.stride):
                    self.long(n)
                self.long(v.offset + 1)
                self.value(v.storage)
        elif isinstance(v, Storage):
            self.int(4)
            if not self.referenced(v):
                self.torch_header(1, v.typename)
                self.long(v.data.size)
                self.out += v.data.astype("<f4").tobytes()
        else:
            raise TypeError(type(v))


def empty() -> Tensor:
    return Tensor(None, 0, (), ())


class Builder:
    """Modules and graph nodes of one network, in creation order."""

    def __init__(self, seed: int, old_batchnorm: bool = False):
        self.rng = np.random.default_rng(seed)
        self.params, self.grads = [], []  # (module fields, key, array) to pack
        self.nodes = []  # (Node, module, inputs) in creation order
        self.old_batchnorm = old_batchnorm

    def module(self, typename, version=1, **fields):
        base = dict(train=False, output=empty(), gradInput=empty(), _type="torch.CudaTensor")
        return TorchObject(typename, version, Table({**base, **fields}))

    def param(self, module, key, array):
        self.params.append((module, key, np.asarray(array, np.float32)))
        if key in ("weight", "bias"):
            self.grads.append((module, "grad" + key.title(), np.zeros_like(array, np.float32)))

    def conv(self, cin, cout, k=1, stride=1, pad=0):
        m = self.module(
            "cudnn.SpatialConvolution",
            nInputPlane=cin,
            nOutputPlane=cout,
            kW=k,
            kH=k,
            dW=stride,
            dH=stride,
            padW=pad,
            padH=pad,
            groups=1,
        )
        bound = 1 / np.sqrt(cin * k * k)  # Torch7's reset()
        self.param(m, "weight", self.rng.uniform(-bound, bound, (cout, cin, k, k)))
        self.param(m, "bias", self.rng.uniform(-bound, bound, cout))
        return m

    def bn(self, n):
        version = 1 if self.old_batchnorm else 2
        m = self.module(
            "nn.SpatialBatchNormalization", version, eps=1e-5, momentum=0.1, affine=True
        )
        self.param(m, "weight", self.rng.uniform(0, 1, n))
        self.param(m, "bias", self.rng.normal(0, 0.1, n))
        self.param(m, "running_mean", self.rng.normal(0, 0.2, n))
        var = self.rng.uniform(0.5, 2.0, n)
        if self.old_batchnorm:
            self.param(m, "running_std", 1 / np.sqrt(var + 1e-5))
        else:
            self.param(m, "running_var", var)
        return m

    def simple(self, typename, **fields):
        return self.module(typename, **fields)

    def container(self, typename, modules):
        return self.module(typename, modules=Table({i + 1: m for i, m in enumerate(modules)}))

    def residual(self, cin, cout):
        mid = cout // 2
        block = self.container(
            "nn.Sequential",
            [
                self.bn(cin),
                self.simple("cudnn.ReLU", inplace=True),
                self.conv(cin, mid),
                self.bn(mid),
                self.simple("cudnn.ReLU", inplace=True),
                self.conv(mid, mid, 3, 1, 1),
                self.bn(mid),
                self.simple("cudnn.ReLU", inplace=True),
                self.conv(mid, cout),
            ],
        )
        skip = (
            self.simple("nn.Identity")
            if cin == cout
            else self.container("nn.Sequential", [self.conv(cin, cout)])
        )
        concat = self.container("nn.ConcatTable", [block, skip])
        return self.container("nn.Sequential", [concat, self.simple("nn.CAddTable", inplace=True)])

    def node(self, module, *inputs, line=0):
        """``module(inputs)`` of nngraph: a Node whose data remembers its inputs in order."""
        data = Table(
            mapindex=Table(),
            reverseMap=Table(),
            annotations=Table(_debugLabel=f"[hg-stacked-test.lua]:{line}_"),
        )
        if module is not None:
            data["module"] = module
        node = TorchObject(
            "nngraph.Node", 1, Table(data=data, id=0, children=Table(), visited=False, marked=False)
        )
        for i, source in enumerate(inputs, 1):
            data["mapindex"][i] = source["data"]
            data["mapindex"][source["data"]] = i
            source["data"]["reverseMap"][node] = True
            node["children"][i] = source
            node["children"][source] = i
        self.nodes.append((node, module, list(inputs)))
        return node

    # hg-stacked-N.lua, parameterised by the widths.
    def hourglass(self, n, cin, cout, f, x):
        up = x
        for a, b in ((cin, f), (f, f), (f, cout)):
            up = self.node(self.residual(a, b), up, line=5)
        low = self.node(
            self.simple("cudnn.SpatialMaxPooling", kW=2, kH=2, dW=2, dH=2, padW=0, padH=0),
            x,
            line=10,
        )
        for a, b in ((cin, f), (f, f), (f, f)):
            low = self.node(self.residual(a, b), low, line=11)
        low = (
            self.hourglass(n - 1, f, cout, f, low)
            if n > 1
            else self.node(self.residual(f, cout), low, line=18)
        )
        low = self.node(self.residual(cout, cout), low, line=20)
        low = self.node(self.simple("nn.SpatialUpSamplingNearest", scale_factor=2), low, line=21)
        return self.node(self.simple("nn.CAddTable", inplace=False), up, low, line=24)

    def lin(self, cin, cout, x):
        x = self.node(self.conv(cin, cout), x, line=29)
        x = self.node(self.bn(cout), x, line=30)
        return self.node(self.simple("cudnn.ReLU", inplace=True), x, line=30)

    def stacked(self, depths, joints, f, w, levels):
        inp = self.node(self.simple("nn.Identity"), line=35)
        x = self.node(self.conv(3, f // 4, 7, 2, 3), inp, line=38)
        x = self.node(self.bn(f // 4), x, line=39)
        x = self.node(self.simple("cudnn.ReLU", inplace=True), x, line=39)
        x = self.node(self.residual(f // 4, f // 2), x, line=40)
        pool = self.node(
            self.simple("cudnn.SpatialMaxPooling", kW=2, kH=2, dW=2, dH=2, padW=0, padH=0),
            x,
            line=41,
        )
        x = pool
        for a, b in ((f // 2, f // 2), (f // 2, f // 2), (f // 2, f)):
            x = self.node(self.residual(a, b), x, line=42)
        cins = [f, f + f // 2] + [2 * f] * (len(depths) - 2)
        previous, outs = pool, []
        for k, depth in enumerate(depths):
            last = k == len(depths) - 1
            hg = self.hourglass(levels, cins[k], w, f, x)
            lin = self.lin(w, w if last else f, self.lin(w, w, hg))
            out = self.node(self.conv(w if last else f, joints * depth), lin, line=54)
            outs.append(out)
            if last:
                break
            back = self.node(self.conv(joints * depth, cins[k + 1]), out, line=55)
            cat = self.node(self.simple("nn.JoinTable", dimension=2), lin, previous, line=58)
            cat = self.node(self.conv(cins[k + 1], cins[k + 1]), cat, line=59)
            x = self.node(self.simple("nn.CAddTable", inplace=False), cat, back, line=60)
            previous = lin
        return inp, outs

    def pack(self):
        """Weights into one flat storage, gradients into another (``getParameters()``)."""
        for entries in (self.params, self.grads):
            flat = Storage(np.concatenate([a.ravel() for _, _, a in entries]))
            offset = 0
            for module, key, array in entries:
                strides = tuple(int(np.prod(array.shape[i + 1 :])) for i in range(array.ndim))
                module.fields[key] = Tensor(flat, offset, array.shape, strides)
                offset += array.size

    def gmodule(self, inp, outs, rng):
        """nn.gModule({inp}, outs) as nngraph builds it, then ``clearState()``."""
        outnode = self.node(None, *outs, line=105)
        innode = self.node(None, line=105)
        inp["data"]["mapindex"][1] = innode["data"]
        inp["data"]["mapindex"][innode["data"]] = 1
        inp["children"][1] = innode
        inp["children"][innode] = 1
        producers = {id(n): ins for n, _, ins in self.nodes}
        producers[id(inp)] = [innode]
        order = _topological([n for n, _, _ in self.nodes], producers, rng)
        bg = _graph([(n, p) for n in order for p in producers[id(n)]])
        fresh = {
            id(n): TorchObject(
                "nngraph.Node",
                1,
                Table(data=n["data"], id=0, children=Table(), visited=False, marked=False),
            )
            for n in order
        }
        fg = _graph([(fresh[id(p)], fresh[id(n)]) for n in order for p in producers[id(n)]])
        forward = [fresh[id(n)] for n in order]
        for node in forward:
            node["data"]["forwardNodeId"] = node["id"]
        modules = [n["data"]["module"] for n in forward if "module" in n["data"]]
        return self.module(
            "nn.gModule",
            modules=_array(modules),
            forwardnodes=_array(forward),
            backwardnodes=_array(list(reversed(order))),
            fg=fg,
            bg=bg,
            innode=fresh[id(innode)],
            outnode=outnode,
            nInputs=1,
            verbose=False,
        )


def _array(items):
    return Table({i + 1: v for i, v in enumerate(items)})


def _graph(edges):
    """graph.Graph from (from, to) pairs: nodes/edges tables with reverse indices."""
    nodes, table_edges = Table(), Table()
    for a, b in edges:
        edge = TorchObject("graph.Edge", 1, Table({"from": a, "to": b}))
        table_edges[len(table_edges) // 2 + 1] = edge
        table_edges[edge] = len(table_edges) // 2 + 1
        for n in (a, b):
            if n not in nodes:
                index = len(nodes) // 2 + 1
                nodes[index], nodes[n] = n, index
                n.fields["id"] = index
        if b not in a["children"]:  # graph.Node:add keeps each child once
            index = len(a["children"]) // 2 + 1
            a["children"][index], a["children"][b] = b, index
    return TorchObject("graph.Graph", 1, Table(nodes=nodes, edges=table_edges))


def _topological(nodes, producers, rng):
    """A random topological order (producers first) of ``nodes``."""
    pending = {id(n): len(producers[id(n)]) for n in nodes}
    consumers = {id(n): [] for n in nodes}
    for n in nodes:
        for p in producers[id(n)]:
            consumers[id(p)].append(n)
    ready, order = [n for n in nodes if pending[id(n)] == 0], []
    while ready:
        n = ready.pop(int(rng.integers(len(ready))))
        order.append(n)
        for c in consumers[id(n)]:
            pending[id(c)] -= 1
            if pending[id(c)] == 0:
                ready.append(c)
    assert len(order) == len(nodes)
    return order


def build(*, depths, joints, features, wide, levels, seed=0, old_batchnorm=False):
    """(Builder, gModule) of a random hg-stacked network; see :func:`save`."""
    builder = Builder(seed, old_batchnorm)
    inp, outs = builder.stacked(depths, joints, features, wide, levels)
    builder.pack()
    builder.outputs = outs
    return builder, builder.gmodule(inp, outs, np.random.default_rng(seed + 1))


def save(obj, path) -> None:
    """``torch.save(path, obj)``."""
    serializer = Serializer()
    serializer.value(obj)
    path.write_bytes(bytes(serializer.out))
