"""The HTML report of a work folder's tables."""
