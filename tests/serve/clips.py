"""A long real clip for the live view's end-to-end tests: a file source plays at its own rate, so its length
is how long the server is up."""
import cv2


def long_clip(data_dir, path, repeats: int = 4):
    """tests/data/vtest_3s.mp4 (30 frames, 10 FPS) played ``repeats`` times as one video at ``path``."""
    writer = None
    for _ in range(repeats):
        capture = cv2.VideoCapture(str(data_dir / "vtest_3s.mp4"))
        while (ok_frame := capture.read())[0]:
            frame = ok_frame[1]
            if writer is None:
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, frame.shape[1::-1])
            writer.write(frame)
        capture.release()
    writer.release()
    return path
