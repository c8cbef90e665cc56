"""Builds the optional native batch-crypto extension; installation succeeds without a compiler."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "mskclient._native",
            sources=["native/batch.c"],
            extra_compile_args=["-O3", "-std=c11", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        )
    ]
)
