"""Metric logs: TensorBoard event files (tensorboard's own writer, no TensorFlow) + JSON lines."""

import io
import json
import pathlib
import time

import numpy as np
from PIL import Image
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter


class MetricWriter:
    """Writes scalars and images to ``DIR/tb`` (TensorBoard) and scalars to ``DIR/metrics.jsonl``.

    Only process 0 of a multi-host run writes (pass ``enabled=False`` elsewhere).
    """

    def __init__(self, workdir, enabled: bool = True):
        self.enabled = enabled
        if not enabled:
            return
        workdir = pathlib.Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.events = EventFileWriter(str(workdir / "tb"))
        self.jsonl = open(workdir / "metrics.jsonl", "a")

    def _event(self, step: int, values: list) -> None:
        summary = summary_pb2.Summary(value=values)
        self.events.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def scalars(self, step: int, scalars: dict) -> None:
        """Log float scalars at ``step``."""
        if not self.enabled:
            return
        scalars = {k: float(v) for k, v in scalars.items()}
        self._event(
            step, [summary_pb2.Summary.Value(tag=k, simple_value=v) for k, v in scalars.items()]
        )
        self.jsonl.write(json.dumps({"step": step, "time": time.time(), **scalars}) + "\n")
        self.jsonl.flush()

    def text(self, step: int, tag: str, text: str) -> None:
        """Record a note (e.g. an accepted config change) in ``metrics.jsonl`` and on stdout."""
        if not self.enabled:
            return
        print(f"note (step {step}): {tag}: {text}")
        self.jsonl.write(json.dumps({"step": step, "time": time.time(), tag: text}) + "\n")
        self.jsonl.flush()

    def image(self, step: int, tag: str, image: np.ndarray) -> None:
        """Log an [H, W, 3] uint8 image."""
        if not self.enabled:
            return

        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG")
        img = summary_pb2.Summary.Image(
            height=image.shape[0],
            width=image.shape[1],
            colorspace=3,
            encoded_image_string=buf.getvalue(),
        )
        self._event(step, [summary_pb2.Summary.Value(tag=tag, image=img)])

    def flush(self) -> None:
        if self.enabled:
            self.events.flush()
            self.jsonl.flush()

    def close(self) -> None:
        if self.enabled:
            self.events.close()
            self.jsonl.close()
