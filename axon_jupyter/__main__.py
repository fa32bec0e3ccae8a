"""`python -m axon_jupyter` is `jupyter axon` (the class must load from axon_jupyter.app)."""

from axon_jupyter.app import main

main()
