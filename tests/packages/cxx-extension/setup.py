from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("mw_cxx._core", sources=["src/mw_cxx/_core.cpp"], language="c++"),
    ],
)
