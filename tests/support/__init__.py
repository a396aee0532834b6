"""What the tests share: the suite's frozen clock, named people, plan inputs and workers.

Test modules import from here, never from one another.
"""
