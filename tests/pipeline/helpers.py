"""Small helpers shared by the pipeline tests."""
import cv2


def decoded_frame_count(path) -> int:
    """How many frames OpenCV can actually decode from the video at ``path`` (not what the header says)."""
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def leftovers(folder) -> list[str]:
    """Hidden files (partials, lock files) in ``folder``: none may stay after a run, whatever happened."""
    import os

    return sorted(name for name in os.listdir(folder) if name.startswith("."))
