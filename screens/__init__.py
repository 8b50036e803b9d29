"""Textual screens and widgets: presentation only. They reach backends through the app's services,
from workers, and never open a socket or a file themselves."""
