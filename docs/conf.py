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
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
templates_path = []
exclude_patterns = ["_build"]

# The examples run while the docs build, so CI runs them too. Set
# SKL_SNAPSHOT_EXAMPLE_SEEDS to shorten the repeated-evaluation example.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "reset_modules": ("matplotlib",),
    "min_reported_time": 1,
}
html_theme = "pydata_sphinx_theme"
