"""The stages of one run, in order: lineage, collect, detect, group, notify.

Each stage is a function the runner calls with the project, the store and the run's
``now``; stages talk through the store and plain values, so each can be tested alone.
"""
