from setuptools import Extension, setup

setup(ext_modules=[Extension("mw_cibw._core", ["src/mw_cibw/_core.c"])])
