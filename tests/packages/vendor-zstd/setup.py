from setuptools import Extension, setup

setup(ext_modules=[Extension("mw_vendor._zstd", ["src/mw_vendor/_zstd.c"], libraries=["zstd"])])
