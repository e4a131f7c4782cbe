from setuptools import Extension, setup

# The stable ABI of CPython 3.13: one cp313-abi3 wheel serves 3.13, 3.14 and 3.15.
setup(
    ext_modules=[
        Extension(
            "mw_dropin._core",
            ["src/mw_dropin/_core.c"],
            py_limited_api=True,
            define_macros=[("Py_LIMITED_API", "0x030D0000")],
        )
    ],
    options={"bdist_wheel": {"py_limited_api": "cp313"}},
)
