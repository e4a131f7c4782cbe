import mw_cibw


def test_greeting_comes_from_the_cibuildwheel_environment() -> None:
    assert mw_cibw.greeting() == "from-cibw"
