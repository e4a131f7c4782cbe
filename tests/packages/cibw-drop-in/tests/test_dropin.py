import os
import sys

import mw_dropin
import packaging  # from the dependency group's include-group


def test_the_wheel_works() -> None:
    assert mw_dropin.greeting() == "hello from the stable ABI"
    assert packaging.__name__ == "packaging"


def test_config_settings_and_before_all_reached_the_build() -> None:
    assert mw_dropin.setting() == "from-config-settings"
    assert mw_dropin.built_with() == "system library installed by before-all"


def test_environments() -> None:
    assert os.environ["CIBUILDWHEEL"] == "1"
    assert os.environ["MW_TEST_ENV"] == "from-test-environment"
    assert os.environ["MW_GREETING"] == "drop-in"  # the build's environment, as in cibuildwheel
    expected = "cp315" if sys.version_info[:2] == (3, 15) else None
    assert os.environ.get("MW_OVERRIDE") == expected


def test_a_failure_asked_for() -> None:
    version = "{}.{}".format(*sys.version_info[:2])
    assert os.environ.get("MW_FAIL_ON") != version, f"asked to fail on {version}"
