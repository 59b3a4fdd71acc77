"""``groupsup explore``: a local web page and JSON API to recombine a trained model's
attributes (:class:`Explorer` holds the loaded run, :class:`ExploreServer` serves it)."""

from groupsup.explore.explorer import Explorer, Limits, RequestError
from groupsup.explore.server import ExploreServer

__all__ = ["ExploreServer", "Explorer", "Limits", "RequestError"]
