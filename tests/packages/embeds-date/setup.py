from setuptools import Extension, setup

setup(ext_modules=[Extension("mw_date._core", sources=["src/mw_date/_core.c"])])
