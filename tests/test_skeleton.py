import numpy as np

from c2f import skeleton as sk


def test_names_parents_bones():
    assert sk.NUM_JOINTS == 17 and len(sk.PARENTS) == 17
    assert sk.JOINT_NAMES[0] == "Pelvis" and sk.JOINT_NAMES[16] == "RWrist"
    assert len(sk.BONES) == 16
    # Every parent precedes its child, so a forward pass over joints sees parents first.
    assert all(p < c for p, c in sk.BONES)


def test_flip_pairs_swap_left_and_right():
    perm = np.array(sk.FLIP_PERMUTATION)
    assert sorted(perm) == list(range(17))
    assert np.all(perm[perm] == np.arange(17))
    for a, b in sk.FLIP_PAIRS:
        na, nb = sk.JOINT_NAMES[a], sk.JOINT_NAMES[b]
        assert {na[0], nb[0]} == {"L", "R"} and na[1:] == nb[1:]
    # Flipping maps bones onto bones.
    bones = {tuple(sorted(b)) for b in sk.BONES}
    assert {tuple(sorted((perm[p], perm[c]))) for p, c in sk.BONES} == bones


def test_release_32_joint_map_matches_release_skeleton(shared_data):
    # metadata.xml's 32-joint tree: collapsing it to our 17 joints must give our parents.
    import re

    xml = (shared_data / "h36m_release" / "metadata.xml").read_text()
    body = re.search(r"<skel_pos>.*?<tree>(.*?)</tree>", xml, re.S)
    assert body is not None, "metadata.xml: no <skel_pos><tree>"
    # <parent> is 1-based there, 0 for the root.
    parents32 = [int(x) - 1 for x in re.findall(r"<parent>\s*(\d+)\s*</parent>", body.group(1))]
    names32 = re.findall(r"<name>(.*?)</name>", body.group(1))
    assert len(parents32) == 32
    assert [names32[i] for i in sk.H36M32_INDICES[:4]] == [
        "Hips",
        "RightUpLeg",
        "RightLeg",
        "RightFoot",
    ]
    assert (
        names32[sk.H36M32_INDICES[11]] == "LeftArm" and names32[sk.H36M32_INDICES[14]] == "RightArm"
    )
    idx = list(sk.H36M32_INDICES)
    for j, release in enumerate(idx[1:], start=1):
        p = parents32[release]
        while p not in idx:
            p = parents32[p]
        expected = sk.PARENTS[j]
        if sk.JOINT_NAMES[j] in ("LShoulder", "RShoulder"):
            # The release hangs the clavicles on Spine1; the 17-joint convention on the thorax.
            assert sk.JOINT_NAMES[idx.index(p)] == "Spine" and sk.JOINT_NAMES[expected] == "Thorax"
        else:
            assert idx.index(p) == expected, sk.JOINT_NAMES[j]


def test_mean_bone_lengths_match_the_authors_file(shared_data):
    from scipy.io import loadmat

    ltr = loadmat(shared_data / "c2f_vol_demo/matlab/utils/data/limb_train.mat")["Ltr"][0]
    ours_in_paper_order = [sk.MEAN_BONE_LENGTHS_MM[sk.BONES.index(b)] for b in sk.PAPER_BONE_ORDER]
    np.testing.assert_allclose(ours_in_paper_order, ltr, atol=1e-3)


def test_mean_bone_lengths_fit_real_training_frames(shared_data):
    # Four real frames of training subjects S1, S5, S7, S8: their mean bones are the paper's means.
    frames = np.load(shared_data / "mmpose_h36m_samples/test_h36m_body3d.npz")
    lengths = sk.bone_lengths(frames["S"][:, :, :3] * 1000.0, skeleton=sk.H36M17).mean(0)
    np.testing.assert_allclose(lengths, sk.MEAN_BONE_LENGTHS_MM, rtol=0.03)
