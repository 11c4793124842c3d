"""The native core: build it (build.py), load it (loader.py), smoke-test it
(smoke.py). Nothing here knows about individual features."""
