"""Statistics for research questions: paired significance between runs, seed-group summaries.

Torch-free; numpy and scipy are imported by the modules that need them.
"""
