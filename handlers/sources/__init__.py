"""The business systems that POST events to /events/<source>: one module each, verifying its own signature."""
