import numpy as np
import pytest

from rtdetect.tracking import LineCounter, parse_line
from rtdetect.types import Detections


def tracked(anchors, ids, classes=None):
    """Detections whose bottom-centre anchors are ``anchors`` (x, y)."""
    b = np.array([[x - 10, y - 40, x + 10, y] for x, y in anchors], np.float32).reshape(-1, 4)
    n = len(b)
    return Detections(b, np.ones(n, np.float32), np.zeros(n, np.int32) if classes is None else classes,
                      track_ids=np.asarray(ids, np.int64))


def test_direction_and_crossing_back():
    counter = LineCounter((100, 0, 100, 200))  # vertical line, pointing down
    for x in (60, 80, 95, 110, 130):  # left to right
        counter.update(tracked([(x, 100)], [1]))
    # It starts where (p2 - p1) x (a - p1) = (0, 200) x (-40, 100) = 0 * 100 - 200 * -40 = +8000 > 0, the "in"
    # side, and ends on the other: one crossing "out", none "in".
    assert (counter.crossed_in[0], counter.crossed_out[0]) == (0, 1)
    for x in (120, 90, 70):  # and back: "in"
        counter.update(tracked([(x, 100)], [1]))
    assert counter.crossed_in[0] == 1 and counter.crossed_out[0] == 1
    totals = counter.totals(["person"])
    assert totals["in"] == {"person": 1} and totals["out"] == {"person": 1}


def test_direction_follows_the_line_orientation():
    down, up = LineCounter((100, 0, 100, 200)), LineCounter((100, 200, 100, 0))
    for x in (80, 120):
        down.update(tracked([(x, 100)], [1]))
        up.update(tracked([(x, 100)], [1]))
    assert (down.crossed_in[0], down.crossed_out[0]) == (up.crossed_out[0], up.crossed_in[0]) != (0, 0)


def test_no_count_beyond_the_segment_or_on_the_line():
    counter = LineCounter((100, 0, 100, 50))
    for x in (80, 120):  # crosses the infinite line below the segment's end
        counter.update(tracked([(x, 100)], [1]))
    for x in (80, 100, 100, 120):  # stops on the line, then goes on: one crossing
        counter.update(tracked([(x, 30)], [2]))
    assert sum(counter.crossed_in.values()) + sum(counter.crossed_out.values()) == 1


def test_per_class_and_untracked_ignored():
    counter = LineCounter((100, 0, 100, 200))
    counter.update(tracked([(80, 50), (80, 150)], [1, 2], np.array([0, 2], np.int32)))
    counter.update(tracked([(120, 50), (120, 150)], [1, 2], np.array([0, 2], np.int32)))
    counts = counter.crossed_in + counter.crossed_out
    assert counts == {0: 1, 2: 1}
    counter.update(Detections(np.zeros((1, 4)), np.ones(1), np.zeros(1)))  # no track ids: nothing


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "1,1,1,1", "nan,0,1,1"])
def test_parse_line_rejects(text):
    with pytest.raises(ValueError):
        parse_line(text)
    assert parse_line("0, 10,20,30.5") == (0, 10, 20, 30.5)
