"""The named recipes: one file each, defining ``get_config() -> c2f.config.Config``.

``paper`` (the paper's Human3.6M recipe, GPU), ``uniform`` (the authors' uniform network),
``integral`` (soft-argmax + L1), ``integral_mpii`` (half of each batch from MPII),
``wholebody`` (H3WB's 133 keypoints, 1-2-4-32), ``demo`` (the CPU demo of ``make demo``) and
``tiny`` (tests). Adding one is adding a file here; :func:`c2f.config.recipe_names` lists them
and ``--config NAME`` loads them.
"""
