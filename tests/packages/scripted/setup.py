from setuptools import Extension, setup

setup(ext_modules=[Extension("mw_scripted._core", ["src/mw_scripted/_core.c"])])
