"""Sphinx configuration for skl_snapshot."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import skl_snapshot  # noqa: E402

project = "skl_snapshot"
author = "skl_snapshot developers"
release = skl_snapshot.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
templates_path = []
exclude_patterns = ["_build"]
html_theme = "pydata_sphinx_theme"
