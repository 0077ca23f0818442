"""The authors' ``hg-stacked-N.lua`` network, found in a saved gModule's data flow.

The walk follows the flow of geopavlakos/c2f-vol-train ``src/models/hg-stacked-4.lua`` from
the input node, one module at a time, and names each convolution and BatchNorm by the path of
the layer that plays its role in :class:`c2f.model.C2FPose`:

* stem (lines 38-44): conv 7x7/2, BatchNorm, ReLU, Residual (``res1``), max-pool, three
  Residuals (``res4``-``res6``);
* ``hourglass`` (lines 3-25): from its input, three Residuals (``up``) and a max-pool followed
  by three Residuals (``low``), then the inner hourglass, or a Residual at the bottom
  (``inner``), a Residual (``low_out``), nearest upsampling, and ``CAddTable{up, upsampled}``;
* ``lin`` (lines 27-31): conv 1x1, BatchNorm, ReLU, twice per stage (``lin1``, ``lin2``);
* the head conv (``out_k``), and except on the last stage (lines 55-60): ``JoinTable(2){this
  stage's lin2, the previous one's}`` (the stem's pool for the first) -> conv (``cat_conv``),
  the head -> conv (``pred_back``), ``CAddTable{cat_conv, pred_back}`` feeding the next stage.
* Residual (``src/models/layers/Residual.lua``): ``Sequential{ConcatTable{Sequential{BN, ReLU,
  conv 1x1, BN, ReLU, conv 3x3, BN, ReLU, conv 1x1}, Identity or Sequential{conv 1x1}},
  CAddTable}``.

Where a node feeds several others the role decides (a Residual is an ``nn.Sequential``, the
lower branch starts with the max-pool, the concatenation takes this stage's features as its
first input), never the order of ``modules``. Every step checks the class, the inputs and
their order; any mismatch is an error naming the node and where the model file created it.

A head's channels are joint-major, ``j * D + d``: ``getPreds3D`` (c2f-vol-train
``src/util/eval.lua`` line 31, c2f-vol-demo ``util.lua`` line 49) views a head as ``[B, J,
D * H * W]``. This is the channel order of :class:`C2FPose`'s heads, so heads are copied as
they are.
"""

import numpy as np

from data_prep.torch7.nngraph import Flow, FlowNode
from data_prep.torch7.t7file import Table, Torch7Error, TorchObject

CONV, BN = "SpatialConvolution", "SpatialBatchNormalization"
_ALIASES = {"SpatialConvolutionMM": CONV}
_RESIDUAL_BLOCK = [BN, "ReLU", CONV, BN, "ReLU", CONV, BN, "ReLU", CONV]
_RESIDUAL_NAMES = {2: "conv1", 0: "bn1", 5: "conv2", 3: "bn2", 8: "conv3", 6: "bn3"}


def kind(module) -> str:
    """The class of a module without its package (nn. or cudnn.), aliases resolved."""
    if not isinstance(module, TorchObject):
        return ""
    return _ALIASES.get(module.short_name, module.short_name)


def submodules(module: TorchObject) -> list:
    """The children of a container (``modules``), in order."""
    modules = module.get("modules")
    return modules.array() if isinstance(modules, Table) else []


class StackedWalk:
    """Walks a :class:`Flow` as hg-stacked-N.lua; see the module docstring.

    After construction: ``layers`` maps each of our layer paths ("stages.0.lin1_bn") to the
    file's module, ``levels`` is the hourglass depth and ``heads`` the head channel counts.

    Raises:
      Torch7Error: the graph is not an hg-stacked-N.lua network (names the node).
    """

    def __init__(self, flow: Flow, name: str):
        self.name = name
        self.layers, self.where = {}, {}
        self.heads, self.levels = [], None
        self._walk(flow)

    def fail(self, node: FlowNode, message: str):
        raise Torch7Error(f"{self.name}: {node.describe()}: {message}")

    def consumer(self, node: FlowNode, wanted: str, slot: int | None = None, role: str = ""):
        found = [
            c for c, s in node.consumers if kind(c.module) == wanted and (slot is None or s == slot)
        ]
        if len(found) != 1:
            readers = ", ".join(f"{c.kind or 'output'} (input {s})" for c, s in node.consumers)
            at = f" as input {slot}" if slot else ""
            role = f" ({role})" if role else ""
            self.fail(
                node,
                f"expected one {wanted}{role} reading it{at}, found {len(found)} "
                f"(it feeds: {readers or 'nothing'})",
            )
        return found[0]

    def expect_inputs(self, node: FlowNode, inputs: list, what: str) -> None:
        if node.inputs != inputs:
            got = [n.describe() for n in node.inputs]
            want = [n.describe() for n in inputs]
            self.fail(node, f"{what}: its inputs are {got}, expected {want}")

    def layer(self, path: str, module, wanted: str, node: FlowNode) -> None:
        if kind(module) != wanted:
            got = module.typename if isinstance(module, TorchObject) else type(module).__name__
            self.fail(node, f"{path}: expected a {wanted}, found {got}")
        self.layers[path] = module
        self.where[path] = node

    def step(self, node: FlowNode, wanted: str, path: str | None = None) -> FlowNode:
        nxt = self.consumer(node, wanted, role=path or "")
        self.expect_inputs(nxt, [node], wanted)
        if path is not None:
            self.layer(path, nxt.module, wanted, nxt)
        return nxt

    def residual(self, node: FlowNode, path: str) -> FlowNode:
        seq = self.consumer(node, "Sequential", role=f"{path}, a Residual")
        self.expect_inputs(seq, [node], path)
        parts = submodules(seq.module)
        if [kind(m) for m in parts] != ["ConcatTable", "CAddTable"]:
            self.fail(
                seq,
                f"{path}: not a Residual (expected Sequential{{ConcatTable, "
                f"CAddTable}}, found {[kind(m) for m in parts]})",
            )
        branches = submodules(parts[0])
        if len(branches) != 2 or [kind(m) for m in submodules(branches[0])] != _RESIDUAL_BLOCK:
            self.fail(seq, f"{path}: the Residual's convolution block is not BN-ReLU-conv x 3")
        block = submodules(branches[0])
        for i, name in _RESIDUAL_NAMES.items():
            self.layer(f"{path}.{name}", block[i], kind(block[i]), seq)
        skip = branches[1]
        if kind(skip) == "Sequential" and [kind(m) for m in submodules(skip)] == [CONV]:
            self.layer(f"{path}.skip", submodules(skip)[0], CONV, seq)
        elif kind(skip) != "Identity":
            self.fail(seq, f"{path}: the Residual's skip is neither Identity nor a 1x1 conv")
        return seq

    def hourglass(self, node: FlowNode, path: str) -> tuple[FlowNode, int]:
        up = node
        for i in range(3):
            up = self.residual(up, f"{path}.up.{i}")
        low = self.step(node, "SpatialMaxPooling")
        for i in range(3):
            low = self.residual(low, f"{path}.low.{i}")
        if any(kind(c.module) == "SpatialMaxPooling" for c, _ in low.consumers):
            inner, levels = self.hourglass(low, f"{path}.inner")
            levels += 1
        else:
            inner, levels = self.residual(low, f"{path}.inner"), 1
        upsampled = self.step(self.residual(inner, f"{path}.low_out"), "SpatialUpSamplingNearest")
        if upsampled.module.get("scale_factor", 2) != 2:
            self.fail(upsampled, "upsampling by other than 2")
        add = self.consumer(up, "CAddTable")
        self.expect_inputs(add, [up, upsampled], "the hourglass's sum")
        return add, levels

    def lin(self, node: FlowNode, path: str) -> FlowNode:
        conv = self.step(node, CONV, path)
        bn = self.step(conv, BN, path + "_bn")
        return self.step(bn, "ReLU")

    def _walk(self, flow: Flow) -> None:
        start = self.step(flow.input, "Identity")
        stem_bn = self.step(self.step(start, CONV, "stem"), BN, "stem_bn")
        pooled = self.step(self.residual(self.step(stem_bn, "ReLU"), "res1"), "SpatialMaxPooling")
        x = pooled
        for name in ("res4", "res5", "res6"):
            x = self.residual(x, name)
        previous = pooled
        stages = len(flow.outputs)
        for k in range(stages):
            p = f"stages.{k}"
            hg, levels = self.hourglass(x, f"{p}.hourglass")
            if self.levels not in (None, levels):
                self.fail(hg, f"stage {k}'s hourglass has {levels} levels, stage 0's {self.levels}")
            self.levels = levels
            features = self.lin(self.lin(hg, f"{p}.lin1"), f"{p}.lin2")
            head = self.step(features, CONV, f"{p}.head")
            if flow.outputs[k] is not head:
                self.fail(head, f"stage {k}'s head is not output {k + 1} of the gModule")
            self.heads.append(int(head.module["nOutputPlane"]))
            if k == stages - 1:
                break
            back = self.step(head, CONV, f"{p}.pred_back")
            cat = self.consumer(features, "JoinTable", 1, f"stage {k}'s concatenation")
            self.expect_inputs(cat, [features, previous], "the concatenation")
            dimension = cat.module.get("dimension")
            if dimension != 2 and not (dimension == 1 and cat.module.get("nInputDims") == 3):
                self.fail(cat, f"concatenates along dimension {dimension}, not the channels")
            merged = self.step(cat, CONV, f"{p}.cat_conv")
            x = self.consumer(merged, "CAddTable")
            self.expect_inputs(x, [merged, back], "the next stage's input")
            previous = features


def conv_weights(module: TorchObject, shape: tuple, stride: int, where: str):
    """(kernel [kh, kw, cin, cout], bias [cout]) of a Torch convolution, checked.

    ``shape`` is our kernel's [kh, kw, cin, cout]; Torch's weight is [cout, cin, kh, kw]
    (``nn.SpatialConvolutionMM`` of old stores it flattened to [cout, cin * kh * kw]).
    """
    kh, kw, cin, cout = shape
    got = {
        k: module.get(k)
        for k in ("nInputPlane", "nOutputPlane", "kH", "kW", "dH", "dW", "padH", "padW")
    }
    want = {
        "nInputPlane": cin,
        "nOutputPlane": cout,
        "kH": kh,
        "kW": kw,
        "dH": stride,
        "dW": stride,
        "padH": kh // 2,
        "padW": kw // 2,
    }
    bad = {k: got[k] for k in want if got[k] != want[k]}
    if bad or (module.get("groups") or 1) != 1:
        raise Torch7Error(
            f"{where}: {module.typename} has {bad or 'groups'}, expected "
            f"{ {k: want[k] for k in bad} or 'groups 1' }"
        )
    weight = np.asarray(module.get("weight"), np.float32)
    if weight.size != cout * cin * kh * kw:
        raise Torch7Error(
            f"{where}: weight of shape {weight.shape}, expected {(cout, cin, kh, kw)}"
        )
    bias = module.get("bias")
    bias = np.zeros(cout, np.float32) if bias is None else np.asarray(bias, np.float32)
    if bias.shape != (cout,):
        raise Torch7Error(f"{where}: bias of shape {bias.shape}, expected {(cout,)}")
    return weight.reshape(cout, cin, kh, kw).transpose(2, 3, 1, 0), bias


def bn_weights(module: TorchObject, n: int, epsilon: float, where: str) -> dict:
    """{scale, bias, mean, var} of a Torch BatchNorm of ``n`` channels, checked.

    Files of nn before BatchNormalization's version 2 store ``running_std`` = 1 / sqrt(var +
    eps) instead of ``running_var`` (nn ``BatchNormalization.lua``, ``BN:read``).
    """
    eps = module.get("eps", 1e-5)
    if abs(eps - epsilon) > 1e-12:
        raise Torch7Error(f"{where}: eps {eps}, but c2f's BatchNorm uses {epsilon}")
    mean = module.get("running_mean")
    var = module.get("running_var")
    if var is None and module.get("running_std") is not None:
        var = np.asarray(module["running_std"], np.float64) ** -2 - eps
    out = {"mean": mean, "var": var}
    affine = module.get("weight") is not None
    out["scale"] = module.get("weight") if affine else np.ones(n)
    out["bias"] = module.get("bias") if affine else np.zeros(n)
    for key, value in out.items():
        if value is None or np.shape(value) != (n,):
            raise Torch7Error(f"{where}: {key} of shape {np.shape(value)}, expected {(n,)}")
        out[key] = np.asarray(value, np.float32)
    return out
