"""``python -m c2f.model --config configs/paper.py``: parameter count and FLOPs."""

from c2f.model.summary import main

main()
