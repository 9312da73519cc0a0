"""The SQL models, shipped inside the wheel as `closebook.sql` (read with importlib.resources).

The folder stays at the top of the repository where an analyst looks for it;
this file only makes it a package so that setuptools installs the `.sql` files.
"""
