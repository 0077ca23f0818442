"""An MP4 writer that encodes on its own thread and publishes the file only when finished.

Shared by the video command (:mod:`c2f.serving.video`) and the synthetic clip
(:mod:`data_prep.synthetic.clip`). Frames are RGB uint8 ``[H, W, 3]`` with even sides
(yuv420p). H.264 (libx264, preset ``veryfast``) where this PyAV build has it, else MPEG-4.
PyAV releases the GIL while it encodes, so drawing the next frame overlaps with encoding.
"""

import pathlib
import queue
import threading
from fractions import Fraction

import av

CODECS = ("libx264", "h264", "mpeg4")
_DONE = object()


def _open_stream(container, fps: float, shape):
    rate = Fraction(fps).limit_denominator(1000)
    for codec in CODECS:
        try:
            options = {"preset": "veryfast"} if codec == "libx264" else {}
            stream = container.add_stream(codec, rate=rate, options=options)
            break
        except Exception:  # noqa: BLE001 - this PyAV build lacks the encoder: try the next
            continue
    else:
        raise RuntimeError(f"no MP4 video encoder among {CODECS} in this PyAV build")
    stream.height, stream.width = shape[0], shape[1]
    stream.pix_fmt = "yuv420p"
    return stream


class Mp4Writer:
    """``with Mp4Writer(path, fps) as w: w.write(image)``; ``path`` appears on a clean exit.

    The file is written under a temporary name beside ``path`` and renamed when the block ends
    without an exception (after the encoder is flushed); on an exception it is removed and
    ``path`` is left as it was. At most ``queue_size`` frames wait for the encoder.
    """

    def __init__(self, path, fps: float, queue_size: int = 8):
        self.path = pathlib.Path(path)
        self.fps = fps
        self.tmp = self.path.with_name(f".{self.path.name}.tmp.mp4")
        self.frames = 0
        self._queue: queue.Queue = queue.Queue(queue_size)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._encode, daemon=True)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.tmp), "w")
        self._thread.start()
        return self

    def write(self, image) -> None:
        """Queue one frame for encoding (raises what the encoder raised, if it failed)."""
        if self._error is not None:
            raise self._failure() from self._error
        self._queue.put(image)
        self.frames += 1

    def _encode(self) -> None:
        stream, done = None, False
        try:
            while (image := self._queue.get()) is not _DONE:
                if stream is None:
                    stream = _open_stream(self._container, self.fps, image.shape)
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                for packet in stream.encode(frame):
                    self._container.mux(packet)
            done = True
            if stream is not None:  # the flush: where a full disk or a read-only place shows
                for packet in stream.encode():
                    self._container.mux(packet)
        except BaseException as e:  # noqa: BLE001 - reported to the writing thread
            self._error = e
            # Let write() and __exit__ go on; after the end marker nobody waits (waiting for
            # a second one was the deadlock of a failing flush).
            while not done and self._queue.get() is not _DONE:
                pass

    def __exit__(self, kind, value, traceback):
        self._queue.put(_DONE)
        self._thread.join()
        try:
            self._container.close()
        except BaseException as e:  # noqa: BLE001 - the muxer's last write (full disk)
            self._error = self._error or e
        if kind is None and self._error is None:
            self.tmp.replace(self.path)
            return False
        self.tmp.unlink(missing_ok=True)
        if kind is None:
            raise self._failure() from self._error
        return False

    def _failure(self) -> Exception:
        """The encoder's error, named; an OSError keeps its errno (ENOSPC: exit code 4)."""
        e = self._error
        if isinstance(e, OSError) and e.errno is not None:
            return OSError(e.errno, f"encoding failed ({e.strerror})", str(self.path))
        return RuntimeError(f"{self.path}: encoding failed ({e})")


def read_frames(path, every: int = 1):
    """(index, [H, W, 3] uint8) of every ``every``-th frame; stops at an undecodable one.

    The generator's ``stopped`` attribute is set to a message when decoding failed.
    """
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        raise ValueError(f"{path}: cannot open as a video ({e})") from e
    with container:
        if not container.streams.video:
            raise ValueError(f"{path}: holds no video stream")
        stream = container.streams.video[0]
        index = -1
        try:
            for frame in container.decode(stream):
                index += 1
                if index % every == 0:
                    yield index, frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as e:
            raise FrameError(f"{path}: frame {index + 1} cannot be decoded ({e})") from e


class FrameError(RuntimeError):
    """Decoding stopped at a corrupt frame."""


def prefetch(items, size: int = 16):
    """Iterate ``items`` on a background thread, ``size`` ahead; re-raises its exceptions.

    Decoding (PyAV releases the GIL) then overlaps with prediction or drawing.
    """
    q: queue.Queue = queue.Queue(size)
    end = object()
    stop = threading.Event()

    def run():
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            q.put((end, e))
            return
        q.put((end, None))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if isinstance(item, tuple) and len(item) == 2 and item[0] is end:
                if item[1] is not None:
                    raise item[1]
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.01)
