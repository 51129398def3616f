"""The seeded tenant generator, one builder per kind of record (``st_sandbox/generate.py``
runs them in order). Every builder draws from the one random stream of ``GenState`` in a
fixed order: the same seed, customer count and anchor give the same records, byte for
byte, so a builder's draws may only be moved together with the output they decide.
"""
