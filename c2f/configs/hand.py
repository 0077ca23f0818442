"""Hands on a CPU: the demo's network for a hand keypoint set (``c2f data synthetic --body anny
--skeleton hand21`` or ``interhand42``, InterHand2.6M, FreiHAND with 3D).

The keypoints, the depth range (+-15 cm about each wrist) and the part roots follow the data
file (``c2f.config.with_data_skeleton``); training-time evaluation uses every frame of the
test file with each hand aligned at its wrist (``all-frames``, InterHand2.6M's protocol), so a
hand file of any subjects trains without overrides:

    c2f data synthetic --body anny --skeleton hand21 --out data/hands
    c2f train --config hand --workdir runs/hand --set data.root=data/hands
"""

import dataclasses

from c2f.configs import demo


def get_config():
    cfg = demo.get_config()
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, root="data/hands"),
        train=dataclasses.replace(cfg.train, protocol="all-frames"),
    )
