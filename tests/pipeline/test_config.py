from rtdetect.config import cache_root


def test_cache_root_follows_the_environment(tmp_path):
    assert cache_root({"RTDETECT_CACHE": str(tmp_path / "x")}) == tmp_path / "x"
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "rtdetect"
    assert cache_root({}).parts[-2:] == (".cache", "rtdetect")


def test_the_test_session_never_uses_the_real_cache():
    """tests/conftest.py gives the session (and the CLI subprocesses it starts) a temporary cache."""
    import os
    import tempfile
    from pathlib import Path

    root = cache_root()
    assert os.environ["RTDETECT_CACHE"] == str(root)
    assert root.is_relative_to(Path(tempfile.gettempdir())) and root != cache_root({})
