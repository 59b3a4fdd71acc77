"""The package version, in a module of its own so that nothing inside ``groupsup`` needs the
top-level package (which imports every layer) to learn it."""

__version__ = "0.1.0"
