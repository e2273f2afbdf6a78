"""Dataset import, preprocessing, splitting and the demo generator."""
