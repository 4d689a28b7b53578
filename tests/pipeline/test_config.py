from rtdetect.config import cache_root


def test_cache_root_follows_the_environment(tmp_path):
    assert cache_root({"RTDETECT_CACHE": str(tmp_path / "x")}) == tmp_path / "x"
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "rtdetect"
    assert cache_root({}).parts[-2:] == (".cache", "rtdetect")
