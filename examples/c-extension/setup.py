from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("mw_cext._core", sources=["src/mw_cext/_core.c"]),
    ],
)
